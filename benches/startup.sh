#!/usr/bin/env bash
# Start-up cost, in one hyperfine run: a 100-variable plain `envref resolve` (no references)
# against a hello-world binary and dotenvy's CLI loading the same .env (`dotenvy -f .env true`,
# which also execs `true`; `envref run -- true` is the like-for-like line for it).
# Target (issue 13): envref resolve no slower than dotenvy.
# Usage: benches/startup.sh [path/to/envref]   (default: target/release/envref)
#   DOTENVY=path (default: dotenvy on PATH; `cargo install dotenvy --features cli`), RUNS=200,
#   BASELINE=path/to/another/envref (an older build, measured in the same run).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
envref=${1:-$root/target/release/envref}
dotenvy=${DOTENVY:-$(command -v dotenvy || true)}
[ -x "$envref" ] || { echo "build it first: cargo build --release -p cargo-envref" >&2; exit 2; }
[ -x "$dotenvy" ] || { echo "needs dotenvy: cargo install dotenvy --features cli (or DOTENVY=path)" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'fn main() { println!("hello"); }\n' > "$work/hello.rs"
rustc -O -o "$work/hello" "$work/hello.rs" # before HOME moves: rustup finds its toolchain there
export HOME=$work/home XDG_CONFIG_HOME=$work/home/.config XDG_STATE_HOME=$work/home/.local/state NO_COLOR=1
mkdir -p "$HOME" "$work/p"
printf 'project: bench\n' > "$work/p/.envref.yaml"
for i in $(seq 0 99); do echo "VAR_$i=plain-value-$i"; done > "$work/p/.env"
cd "$work/p"
"$envref" resolve | grep -c . | grep -qx 100
"$dotenvy" -f .env true

hyperfine -N --warmup 20 --runs "${RUNS:-200}" --export-json "$work/h.json" \
  -n hello "$work/hello" \
  -n dotenvy "$dotenvy -f .env true" \
  -n "envref resolve" "$envref resolve" \
  -n "envref run -- true" "$envref run -- true" \
  ${BASELINE:+-n "baseline resolve" "$BASELINE resolve"} >/dev/null 2>&1
python3 - "$work/h.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
for name, x in r.items():
    print(f"{name:<22} mean {x['mean']*1000:6.2f} ms ± {x['stddev']*1000:5.2f}  median {x['median']*1000:6.2f}  min {x['min']*1000:6.2f}  cpu {(x['user'] + x['system'])*1000:5.2f}")
m = lambda n: r[n]["mean"]
# CPU time (user + system): steadier than wall time when other work shares the machine.
c = lambda n: r[n]["user"] + r[n]["system"]
print("ratios                          wall (mean)  cpu (user+sys)")
for a, b, note in [("envref resolve", "hello", ""), ("envref resolve", "dotenvy", "  (target: <= 1)"),
                   ("envref run -- true", "dotenvy", "")] + ([("envref resolve", "baseline resolve", "")] if "baseline resolve" in r else []):
    print(f"{a + ' / ' + b:<32} {m(a) / m(b):5.2f}x       {c(a) / c(b):5.2f}x{note}")
PY
