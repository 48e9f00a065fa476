#!/usr/bin/env bash
# Layer: the C hygiene gates: clang-format with the repo's config (no diff), and make lint
# (clang-tidy with .clang-tidy, warnings as errors; cppcheck). Prints "N passed, N failed" last.
set -uo pipefail
cd "$(dirname "$0")/../.."
PASSED=0
FAILED=0
if clang-format --dry-run -Werror $(git ls-files '*.c' '*.h') >build/test-logs/format.log 2>&1; then
  echo "ok   clang-format"; PASSED=$((PASSED + 1))
else
  head -30 build/test-logs/format.log; echo "FAIL clang-format (run make format)"; FAILED=$((FAILED + 1))
fi
if make -s lint >build/test-logs/lint.log 2>&1; then
  echo "ok   make lint"; PASSED=$((PASSED + 1))
else
  grep -E 'warning:|error:' build/test-logs/lint.log | head -30; echo "FAIL make lint"; FAILED=$((FAILED + 1))
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
