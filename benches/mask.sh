#!/usr/bin/env bash
# Throughput of `envref run`'s masking (issue 15): 100 MB of text (base64 lines, a secret every
# ~1 MB) through the relay, side by side with the same bytes through `cat`, both into a pipe.
#   cat:        cat data | cat > /dev/null
#   no-mask:    envref run --no-mask -- cat data | cat > /dev/null   (exec: the cat baseline)
#   mask:       envref run -- cat data | cat > /dev/null             (relay + masker, 3 secrets)
# Prints the mean time, MB/s and the ratio to cat, and checks that the masked output holds no
# secret and changed nothing else (the byte count falls by exactly the replaced lengths).
# Usage: benches/mask.sh [path/to/envref]   (default: target/release/envref); SIZE_MB=100
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
envref=${1:-$root/target/release/envref}
[ -x "$envref" ] || { echo "build it first: cargo build --release -p cargo-envref" >&2; exit 2; }
size_mb=${SIZE_MB:-100}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config NO_COLOR=1
export ENVREF_VAULT_PASSPHRASE=bench
mkdir -p "$HOME" "$work/p"
cd "$work/p"
printf 'project: bench\nbackends:\n  - name: vault\n    type: vault\n    config: {path: %s/vault.db}\n' "$work" > .envref.yaml
"$envref" vault init --work-factor 10 >/dev/null 2>&1
secret=sk-live-4f9c2b7e1a
"$envref" secret set api_key --value "$secret" >/dev/null 2>&1
"$envref" secret set db_password --value 'correct horse battery staple' >/dev/null 2>&1
"$envref" secret set token --value 'ghp_0123456789abcdefghijklmnopqrstuvwxyz' >/dev/null 2>&1
printf 'API_KEY=ref://secrets/api_key\nDB=ref://secrets/db_password\nTOKEN=ref://secrets/token\n' > .env

python3 - "$work/data" "$size_mb" "$secret" <<'PY'
import base64, os, sys
path, size, secret = sys.argv[1], int(sys.argv[2]) * 1000 * 1000, sys.argv[3]
with open(path, "wb") as f:
    written, n = 0, 0
    while written < size:
        line = base64.b64encode(os.urandom(57)) + b"\n"
        n += 1
        if n % 13000 == 0:  # about one secret per MB
            line = b"log: key=" + secret.encode() + b"\n"
        f.write(line)
        written += len(line)
PY
bytes=$(stat -c %s "$work/data")

# Correctness first: no secret left, and only the secrets' bytes changed.
"$envref" run -- cat "$work/data" > "$work/out"
! grep -q "$secret" "$work/out" || { echo "FAIL: the secret survived" >&2; exit 1; }
secrets=$(grep -c "$secret" "$work/data")
marker='<concealed by envref>'
want=$(( bytes + secrets * (${#marker} - ${#secret}) ))
[ "$(stat -c %s "$work/out")" = "$want" ] || { echo "FAIL: output has $(stat -c %s "$work/out") bytes, want $want" >&2; exit 1; }

runs=${RUNS:-10}
hyperfine --warmup 2 --runs "$runs" --export-json "$work/h.json" \
  -n cat "cat $work/data | cat > /dev/null" \
  -n no-mask "$envref run --no-mask -- cat $work/data | cat > /dev/null" \
  -n mask "$envref run -- cat $work/data | cat > /dev/null" >/dev/null 2>&1
python3 - "$work/h.json" "$bytes" "$secrets" <<'PY'
import json, sys
results = json.load(open(sys.argv[1]))["results"]
mb = int(sys.argv[2]) / 1e6
base = results[0]["mean"]
print(f"{mb:.0f} MB, {sys.argv[3]} secrets in the data, 3 secrets masked (x6 forms each)")
for r in results:
    print(f"{r['command']:<8} mean {r['mean']*1000:8.1f} ms ± {r['stddev']*1000:6.1f}  "
          f"{mb / r['mean']:8.0f} MB/s  {r['mean'] / base:5.2f}x cat")
PY
