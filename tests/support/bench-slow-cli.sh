#!/usr/bin/env bash
# Benchmark (not a test): whole-process time of `envref resolve` for 20 secrets through a
# backend CLI that takes 200 ms per call (a plugin that sleeps 0.2 s, then answers).
# Serial lookups would take >= 20 x 200 ms = 4 s; envref runs distinct lookups in parallel
# (PARALLEL_LOOKUPS at a time), so expect about ceil(20/8) x 200 ms plus process overhead.
# Usage: tests/support/bench-slow-cli.sh [path/to/envref] [runs]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
envref=$(realpath "${1:-$root/target/debug/envref}")
runs=${2:-5}
[ -x "$envref" ] || { echo "build first: cargo build -p cargo-envref" >&2; exit 2; }
command -v jq >/dev/null || { echo "needs jq" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/home" "$dir/project"
cat >"$dir/slow-cli" <<'PLUGIN'
#!/usr/bin/env bash
req=$(cat)
key=$(jq -r .key <<<"$req")
sleep 0.2
jq -cn --arg v "value-of-$key" '{value: $v}'
PLUGIN
chmod +x "$dir/slow-cli"
printf 'project: bench\nbackends:\n  - name: slow\n    type: plugin\n    config:\n      command: %s\n' "$dir/slow-cli" >"$dir/project/.envref.yaml"
for i in $(seq -w 1 20); do echo "K$i=ref://secrets/key_$i"; done >"$dir/project/.env"
cd "$dir/project"
export HOME="$dir/home" XDG_CONFIG_HOME="$dir/home/.config" NO_COLOR=1
out=$("$envref" resolve)
[ "$(grep -c '^K[0-9]*=value-of-bench/key_' <<<"$out")" = 20 ] || { echo "wrong output:" >&2; echo "$out" >&2; exit 1; }
echo "envref resolve, 20 secrets, backend CLI 200 ms/call (serial would be >= 4000 ms):"
for r in $(seq 1 "$runs"); do
  start=$(date +%s%N)
  "$envref" resolve >/dev/null
  echo "  run $r: $(( ($(date +%s%N) - start) / 1000000 )) ms"
done
