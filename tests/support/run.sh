#!/usr/bin/env bash
# The README's test command: `cargo test --workspace [ARGS...]`, then the time each test binary
# took and every skipped test.
#
# A test whose external component (gnome-keyring, aws, bao, oci, direnv, ...) is missing is
# skipped, not failed: ENVREF_TEST_ALLOW_SKIP defaults to 1 here (plain `cargo test` fails on a
# missing component instead). ENVREF_TEST_REQUIRE=all (as .ci/run sets it), or a comma-separated
# list of components, makes them required again.
set -uo pipefail
cd "$(dirname "$0")/../.."
skips=$(mktemp)
output=$(mktemp)
trap 'rm -f "$skips" "$output"' EXIT
export ENVREF_TEST_ALLOW_SKIP="${ENVREF_TEST_ALLOW_SKIP:-1}" ENVREF_TEST_SKIP_LOG="$skips"

cargo test --workspace "$@" 2>&1 | tee "$output"
status=${PIPESTATUS[0]}

echo
echo "test time per binary (seconds):"
# cargo prints "Running <target> (<binary>)" or "Doc-tests <crate>" before each binary's
# results, and "test result: ... finished in <t>s" after them.
awk '/^ +Running /{name=$NF; gsub(/[()]/,"",name); sub(/.*\//,"",name); sub(/-[0-9a-f]+$/,"",name)}
     /^ +Doc-tests /{name="doc-tests " $2}
     /^test result:/{t=$NF; sub(/s$/,"",t); printf "%9.2f  %s\n", t, name}' "$output" | sort -rn

if [ -s "$skips" ]; then
  echo
  echo "SKIPPED $(sort -u "$skips" | wc -l) tests, their components not available:"
  sed -E 's/^SKIPPED [^ ]+: (.*) is not available$/\1/' "$skips" | sort | uniq -c
  sort -u "$skips" | sed 's/^/  /'
else
  echo "skipped: none"
fi
exit "$status"
