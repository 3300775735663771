#!/usr/bin/env bash
# op:// references: one `op inject` for all of them, or one `op read` per reference run 8 at a
# time (PARALLEL_LOOKUPS)? One hyperfine run against the fake `op` of tests/support (no real op
# is obtainable here), for N references (default 20):
#   - the op calls alone: `xargs -P 8 op read` vs one `op inject` of a template of N lines;
#   - the same with FAKE_OP_LATENCY_MS=150, a modeled per-process cost of the real op (start,
#     session check, account sync; a model, not a measurement of op);
#   - `envref resolve` end to end of N references (one inject) and of 1 (one read).
# Usage: benches/op_read.sh [path/to/envref]   (default: target/release/envref); N=20 RUNS=10.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
envref=${1:-$root/target/release/envref}
[ -x "$envref" ] || { echo "build it first: cargo build --release -p cargo-envref" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
n=${N:-20}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_STATE_HOME=$work/home/.local/state NO_COLOR=1
export FAKE_OP_STATE=$work/op-state.json
mkdir -p "$HOME" "$work/bin"
ln -s "$root/tests/support/fake-op" "$work/bin/op"
export PATH=$work/bin:$PATH

python3 - "$FAKE_OP_STATE" "$n" <<'PY'
import json, sys
items = {f"item-{i}": {"id": f"id{i}", "category": "LOGIN",
                       "fields": [{"label": "password", "value": f"value-{i}"}]}
         for i in range(int(sys.argv[2]))}
json.dump({"default/Bench": items}, open(sys.argv[1], "w"))
PY
for i in $(seq 0 $((n - 1))); do echo "op://Bench/item-$i/password"; done > "$work/refs"
sed 's/.*/{{ & }}/' "$work/refs" > "$work/template"
mkdir -p "$work/many" "$work/one"
echo 'project: bench' | tee "$work/many/.envref.yaml" > "$work/one/.envref.yaml"
awk '{print "K" NR-1 "=" $0}' "$work/refs" > "$work/many/.env"
head -1 "$work/many/.env" > "$work/one/.env"
"$envref" -C "$work/many" resolve | grep -c '=value-' | grep -qx "$n"

reads="xargs -a $work/refs -d '\n' -P 8 -n 1 op read --no-newline >/dev/null"
inject="op inject < $work/template >/dev/null"
hyperfine --warmup 1 --runs "${RUNS:-10}" --export-json "$work/h.json" \
  -n "read x$n, 8 at a time" "$reads" \
  -n "inject x$n" "$inject" \
  -n "read x$n, 8 at a time, 150 ms/process" "FAKE_OP_LATENCY_MS=150 $reads" \
  -n "inject x$n, 150 ms/process" "FAKE_OP_LATENCY_MS=150 $inject" \
  -n "envref resolve, $n refs" "$envref -C $work/many resolve >/dev/null" \
  -n "envref resolve, 1 ref" "$envref -C $work/one resolve >/dev/null" >/dev/null 2>&1
python3 - "$work/h.json" "$n" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
n = sys.argv[2]
for name, x in r.items():
    print(f"{name:<40} mean {x['mean']*1000:8.1f} ms ± {x['stddev']*1000:6.1f}  min {x['min']*1000:8.1f}")
m = lambda k: r[k]["mean"]
print(f"read/inject (fake op):             {m(f'read x{n}, 8 at a time') / m(f'inject x{n}'):.2f}x")
print(f"read/inject (150 ms per process):  {m(f'read x{n}, 8 at a time, 150 ms/process') / m(f'inject x{n}, 150 ms/process'):.2f}x")
print(f"envref {n} refs / 1 ref:             {m(f'envref resolve, {n} refs') / m('envref resolve, 1 ref'):.2f}x")
PY
