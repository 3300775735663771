#!/usr/bin/env bash
# Whole-process benchmarks of `envref resolve` (hyperfine when present, else a timing loop).
#   1. a 100-variable .env with 20 references through the example bash+jq plugin;
#   2. 1, 10 and 100 references through the local vault (default work factor 16):
#      the 100-secret run must cost less than 1.5x the 1-secret run (one scrypt per run).
# Usage: benches/resolve.sh [path/to/envref]   (default: target/release/envref)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
envref=${1:-$root/target/release/envref}
[ -x "$envref" ] || { echo "build it first: cargo build --release -p cargo-envref" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config NO_COLOR=1
mkdir -p "$HOME"

time_it() { # name, command...
  local name=$1; shift
  if command -v hyperfine >/dev/null; then
    hyperfine -N --warmup 2 --runs "${RUNS:-15}" --export-json "$work/h.json" "$*" >/dev/null 2>&1
    python3 - "$name" "$work/h.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[2]))["results"][0]
print(f"{sys.argv[1]:<40} mean {r['mean']*1000:8.1f} ms  ± {r['stddev']*1000:6.1f}  (min {r['min']*1000:.1f}, max {r['max']*1000:.1f}, n={len(r['times'])})")
PY
  else
    local s e; s=$(date +%s%N); for _ in $(seq 10); do "$@" >/dev/null; done; e=$(date +%s%N)
    printf '%-40s mean %8.1f ms (10 runs)\n' "$name" "$(( (e - s) / 10000000 )).0"
  fi
}

# 1. plugin: 100 variables, 20 references.
p=$work/plugin; mkdir -p "$p"
cat > "$p/.envref.yaml" <<YAML
project: bench
backends:
  - name: store
    type: plugin
    config: {command: $root/examples/plugins/envref-backend-filestore}
YAML
export ENVREF_FILESTORE=$work/store.json
python3 - "$p/.env" "$ENVREF_FILESTORE" <<'PY'
import json, sys
lines, store = [], {}
for i in range(100):
    if i % 5 == 0:
        lines.append(f"SECRET_{i}=ref://secrets/key_{i}")
        store[f"bench/key_{i}"] = f"value-{i}"
    else:
        prev = f"${{CONFIG_{i-1}:-x}}" if (i - 1) % 5 else "base"
        lines.append(f"CONFIG_{i}=plain-{i}-{prev}")
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
json.dump(store, open(sys.argv[2], "w"))
PY
"$envref" -q -C "$p" allow # its config names the plugin
"$envref" -C "$p" resolve | grep -c . | grep -qx 100
time_it "plugin: 100 vars, 20 refs" "$envref" -C "$p" resolve

# 2. vault: 1, 10, 100 secrets.
export ENVREF_VAULT_PASSPHRASE=bench-passphrase
"$envref" vault init -q
for n in 1 10 100; do
  v=$work/vault$n; mkdir -p "$v"
  printf 'project: v%s\nbackends:\n  - name: vault\n    type: vault\n' "$n" > "$v/.envref.yaml"
  : > "$v/.env"
  python3 - "$n" > "$work/import.json" <<'PY'
import json, sys
n = int(sys.argv[1])
print(json.dumps({"version": 1, "secrets": {f"v{n}/k{i}": f"secret-{i}" for i in range(n)}}))
PY
  for i in $(seq 0 $((n - 1))); do echo "K$i=ref://secrets/k$i" >> "$v/.env"; done
  "$envref" -q vault import --file "$work/import.json"
  "$envref" -C "$v" resolve | grep -c . | grep -qx "$n"
  time_it "vault: $n secret(s)" "$envref" -C "$v" resolve
done
