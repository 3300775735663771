#!/usr/bin/env bash
# The README's test command: `cargo nextest run --workspace [ARGS...]` (each test in its own
# process, two per core at a time) and then the doc tests (`cargo test --doc`,
# which nextest does not run; only without ARGS), or `cargo test --workspace [ARGS...]` where
# cargo-nextest is not installed; then the time each test binary took and every skipped test.
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

# nextest writes each test's time and binary id here (.config/nextest.toml): in its store
# directory, target/nextest under the workspace root whatever CARGO_TARGET_DIR says.
junit=target/nextest/default/junit.xml
rm -f "$junit"

status=0
if cargo nextest --version >/dev/null 2>&1; then
  # Two tests per core: most of them wait on the processes they drive (servers, sleeps, a nested
  # cargo), so one per core leaves the cores idle. NEXTEST_TEST_THREADS or --test-threads
  # overrides it.
  export NEXTEST_TEST_THREADS="${NEXTEST_TEST_THREADS:-$((2 * $(nproc)))}"
  cargo nextest run --workspace --no-fail-fast "$@" || status=$?
  if [ $# -eq 0 ]; then
    cargo test --doc --workspace 2>&1 | tee "$output"
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  fi
else
  echo "run.sh: cargo-nextest not found, so \`cargo test\` runs one test binary at a time" \
    "(install it: cargo install --locked cargo-nextest)"
  cargo test --workspace "$@" 2>&1 | tee "$output"
  status=${PIPESTATUS[0]}
fi

echo
echo "test time per binary, and per file of cargo-envref's suite" \
  "(seconds; under nextest the sum of its tests' times):"
{
  # nextest: <testcase name="..." classname="<package>::<binary>" ... time="<seconds>">; the
  # tests of cargo-envref's one binary (`suite`) are counted by file, their first module.
  [ -f "$junit" ] && awk 'match($0, /<testcase [^>]*classname="[^"]*"/) {
      c = substr($0, RSTART, RLENGTH); sub(/.*classname="/, "", c); sub(/"$/, "", c)
      if (c ~ /::suite$/ && match($0, / name="[^":]*::/)) {
        sub(/suite$/, substr($0, RSTART + 7, RLENGTH - 9), c)
      }
      if (match($0, / time="[0-9.]+"/)) { t = substr($0, RSTART + 7, RLENGTH - 8); sum[c] += t }
    }
    END { for (c in sum) printf "%9.2f  %s\n", sum[c], c }' "$junit"
  # cargo test prints "Running <target> (<binary>)" or "Doc-tests <crate>" before each binary's
  # results, and "test result: ... finished in <t>s" after them.
  awk '/^ +Running /{name=$NF; gsub(/[()]/,"",name); sub(/.*\//,"",name); sub(/-[0-9a-f]+$/,"",name)}
       /^ +Doc-tests /{name="doc-tests " $2}
       /^test result:/{t=$NF; sub(/s$/,"",t); printf "%9.2f  %s\n", t, name}' "$output"
} | sort -rn

if [ -s "$skips" ]; then
  echo
  echo "SKIPPED $(sort -u "$skips" | wc -l) tests, their components not available:"
  sed -E 's/^SKIPPED [^ ]+: (.*) is not available$/\1/' "$skips" | sort | uniq -c
  sort -u "$skips" | sed 's/^/  /'
else
  echo "skipped: none"
fi
exit "$status"
