#!/usr/bin/env bash
# Layer: build every libFuzzer target (make fuzz, clang + ASan/UBSan) and run each for a bounded
# smoke (FUZZ_RUNS inputs, default 20000; FUZZ_SECONDS cap, default 30) from an empty corpus.
# A crash, leak or sanitizer report fails the target. Longer campaigns: see docs/testing.md.
set -uo pipefail
cd "$(dirname "$0")/../.."
RUNS=${FUZZ_RUNS:-20000}
SECS=${FUZZ_SECONDS:-30}
PASSED=0
FAILED=0
if ! make -s fuzz >build/test-logs/fuzz-build.log 2>&1; then
  tail -20 build/test-logs/fuzz-build.log
  echo "0 passed, 1 failed"
  exit 1
fi
for bin in build-fuzz/fuzz/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  corpus=$(mktemp -d)
  if "$bin" -runs="$RUNS" -max_total_time="$SECS" -max_len=4096 "$corpus" \
      >"build/test-logs/$name.log" 2>&1; then
    echo "ok   $name ($(grep -o 'Done [0-9]* runs' "build/test-logs/$name.log" | tail -1))"
    PASSED=$((PASSED + 1))
  else
    tail -30 "build/test-logs/$name.log"
    echo "FAIL $name"
    FAILED=$((FAILED + 1))
  fi
  rm -rf "$corpus"
done
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
