#!/usr/bin/env bash
# envref resolving 100 vault secrets through the agent, next to fnox's age provider exporting
# 100 secrets, in one hyperfine run (issue 13's target: <= 0.5x). Needs hyperfine, age-keygen
# and fnox (FNOX=path). Usage: benches/fnox.sh [path/to/envref] (default: the release build).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
envref=${1:-$root/target/release/envref}
fnox=${FNOX:-fnox}
command -v "$fnox" >/dev/null || { echo "needs fnox (cargo install fnox, or FNOX=path)" >&2; exit 2; }
command -v age-keygen >/dev/null || { echo "needs age-keygen (apt-get install age)" >&2; exit 2; }
work=$(mktemp -d)
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_STATE_HOME=$work/home/.local/state
export XDG_RUNTIME_DIR=$work/run NO_COLOR=1
mkdir -p "$HOME" "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
trap '"$envref" -q -C "$work/e" vault lock 2>/dev/null || true; rm -rf "$work"' EXIT
N=100

# fnox: an age identity, a fnox.toml with N encrypted secrets.
mkdir -p "$work/f" && cd "$work/f"
age-keygen -o key.txt 2>/dev/null
public=$(age-keygen -y key.txt)
printf 'root = true\n\n[providers.age]\ntype = "age"\nrecipients = ["%s"]\n\n[secrets]\n' "$public" > fnox.toml
export FNOX_AGE_KEY_FILE=$work/f/key.txt
for i in $(seq 1 $N); do "$fnox" set "S_$i" "value-$i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" --provider age >/dev/null; done

# envref: a vault with the same N secrets, unlocked into the agent; plain project for scale.
mkdir -p "$work/e" && cd "$work/e"
printf 'project: bench\nbackends:\n  - name: vault\n    type: vault\n    config: {path: %s}\n' "$work/e/v.db" > .envref.yaml
python3 -c "
import sys
print('\n'.join(f'S_{i}=ref://secrets/s_{i}' for i in range(1, $N + 1)))" > .env
ENVREF_VAULT_PASSPHRASE=bench "$envref" -q vault init >/dev/null
python3 -c "import json; print(json.dumps({'version':1,'secrets':{f'bench/s_{i}':f'value-{i}-'+'x'*40 for i in range(1, $N + 1)}}))" \
  | "$envref" -q vault import --force
ENVREF_VAULT_PASSPHRASE=bench "$envref" -q vault unlock --for 10m
"$envref" resolve >/dev/null

cd "$work"
# Both must give all N values before they are timed.
got_e=$("$envref" -C "$work/e" resolve | grep -c '=value-')
got_f=$("$fnox" -c "$work/f/fnox.toml" export | grep -c 'value-')
[ "$got_e" = "$N" ] && [ "$got_f" = "$N" ] \
  || { echo "expected $N values, envref gave $got_e and fnox $got_f" >&2; exit 1; }
hyperfine -N --warmup 3 --runs "${RUNS:-30}" --export-json "$work/r.json" \
  "$envref -C $work/e resolve" \
  "$fnox -c $work/f/fnox.toml export" >/dev/null 2>&1 \
  || { hyperfine -N --runs 1 "$envref -C $work/e resolve" "$fnox -c $work/f/fnox.toml export"; exit 1; }
python3 - "$work/r.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
e, f = r[0]["mean"] * 1000, r[1]["mean"] * 1000
print(f"envref resolve, 100 vault secrets via the agent  {e:8.2f} ms")
print(f"fnox export, 100 age secrets                    {f:8.2f} ms")
print(f"ratio envref / fnox                              {e / f:8.2f}x  (target: <= 0.5)")
PY
