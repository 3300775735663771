#!/usr/bin/env bash
# Plugin batch extension, in one hyperfine run: `envref resolve` of 1 and of 100 references
# through each example plugin (which answers `get_many`: one call for the 100), and of 100
# through the bash plugin behind a wrapper that refuses `get_many` (key by key, as before).
# Target (issue 13): 100 references through a batch-capable example plugin <= 2x one.
# Usage: benches/plugin_batch.sh [path/to/envref]   (default: target/release/envref); RUNS=15.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
envref=${1:-$root/target/release/envref}
[ -x "$envref" ] || { echo "build it first: cargo build --release -p cargo-envref" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_STATE_HOME=$work/home/.local/state NO_COLOR=1
export ENVREF_FILESTORE=$work/store.json ENVREF_PYSTORE=$work/store.json
mkdir -p "$HOME"
plugins=$root/examples/plugins

# The bash plugin without the extension: get_many is an unknown operation, all else passes on.
cat > "$work/keywise" <<SH
#!/bin/bash
request=\$(cat)
case "\$request" in
  *'"get_many"'*) echo '{"error": "unsupported operation \"get_many\""}' ;;
  *) printf '%s' "\$request" | exec $plugins/envref-backend-filestore ;;
esac
SH
chmod +x "$work/keywise"

python3 - "$ENVREF_FILESTORE" <<'PY'
import json, sys
json.dump({f"bench/key_{i}": f"value-{i}" for i in range(100)}, open(sys.argv[1], "w"))
PY
project() { # dir, plugin command, number of references
  mkdir -p "$1"
  printf 'project: bench\nbackends:\n  - name: store\n    type: plugin\n    config: {command: %s}\n' "$2" > "$1/.envref.yaml"
  for i in $(seq 0 $(($3 - 1))); do echo "K$i=ref://secrets/key_$i"; done > "$1/.env"
  "$envref" -q -C "$1" allow
  "$envref" -C "$1" resolve | grep -c . | grep -qx "$3"
}
project "$work/bash1" "$plugins/envref-backend-filestore" 1
project "$work/bash100" "$plugins/envref-backend-filestore" 100
project "$work/py1" "$plugins/envref-backend-pystore" 1
project "$work/py100" "$plugins/envref-backend-pystore" 100
project "$work/keywise100" "$work/keywise" 100

hyperfine -N --warmup 2 --runs "${RUNS:-15}" --export-json "$work/h.json" \
  -n "bash 1" "$envref -C $work/bash1 resolve" \
  -n "bash 100" "$envref -C $work/bash100 resolve" \
  -n "python 1" "$envref -C $work/py1 resolve" \
  -n "python 100" "$envref -C $work/py100 resolve" \
  -n "bash 100 key by key" "$envref -C $work/keywise100 resolve" >/dev/null 2>&1
python3 - "$work/h.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
for name, x in r.items():
    print(f"{name:<22} mean {x['mean']*1000:8.1f} ms ± {x['stddev']*1000:6.1f}  min {x['min']*1000:8.1f}  cpu {(x['user'] + x['system'])*1000:8.1f}")
m = lambda n: r[n]["mean"]
# CPU time (user + system, children included): steadier than wall time on a shared machine.
c = lambda n: r[n]["user"] + r[n]["system"]
print("ratios                              wall (mean)  cpu (user+sys)")
for a, b, note in [("bash 100", "bash 1", "  (target: <= 2)"), ("python 100", "python 1", "  (target: <= 2)"),
                   ("bash 100 key by key", "bash 100", "")]:
    print(f"{a + ' / ' + b:<36} {m(a) / m(b):6.2f}x      {c(a) / c(b):6.2f}x{note}")
PY
