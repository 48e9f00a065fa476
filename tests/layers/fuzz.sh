#!/usr/bin/env bash
# Layer: build every libFuzzer target (make fuzz: clang, ASan + UBSan, neither recovers) and run
# each for a bounded smoke (FUZZ_RUNS inputs, default 20000; FUZZ_SECONDS cap, default 30) from an
# empty corpus. One check per tests/fuzz/fuzz_*.c: it fails when the target was not built, the run
# exits non-zero (crash, leak, sanitizer report, an input slower than FUZZ_INPUT_TIMEOUT_S), its
# log has a sanitizer report or no "Done N runs", or it outlives its bound (TIMEOUT). No target at
# all fails the layer. Longer campaigns: see docs/testing.md. Prints "N passed, N failed" last.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=lib.sh
. tests/layers/lib.sh

LOGDIR=build/test-logs
RUNS=${FUZZ_RUNS:-20000}
SECS=${FUZZ_SECONDS:-30}
INPUT_TIMEOUT=${FUZZ_INPUT_TIMEOUT_S:-25} # libFuzzer's own default is 1200 s per input
mkdir -p "$LOGDIR"

if ! make -s fuzz >"$LOGDIR/fuzz-build.log" 2>&1; then
  tail -20 "$LOGDIR/fuzz-build.log"
  fail "make fuzz"
  finish
fi
found=0
for src in tests/fuzz/fuzz_*.c; do
  [ -f "$src" ] || continue
  found=1
  name=$(basename "$src" .c)
  bin=build-fuzz/fuzz/$name
  log=$LOGDIR/$name.log
  if [ ! -x "$bin" ]; then
    fail "$name: make fuzz did not build $bin"
    continue
  fi
  corpus=$(mktemp -d)
  # The bound leaves libFuzzer time to stop by itself at -max_total_time and report. A crashing
  # input is kept beside the log (not in the repository's root) to reproduce it with.
  bounded $((SECS + 60)) "$bin" -runs="$RUNS" -max_total_time="$SECS" -timeout="$INPUT_TIMEOUT" \
    -max_len=4096 -artifact_prefix="$LOGDIR/$name-" "$corpus" >"$log" 2>&1
  rc=$?
  rm -rf "$corpus"
  done_line=$(grep -o 'Done [0-9]* runs' "$log" | tail -1)
  if [ "$rc" -eq 124 ]; then
    tail -20 "$log"
    timed_out "$name (no end after $((SECS + 60)) s)"
  elif [ "$rc" -ne 0 ] || grep -qE 'runtime error:|ERROR: [A-Za-z]*Sanitizer|ERROR: libFuzzer' "$log"; then
    tail -30 "$log"
    fail "$name (exit $rc, log $log)"
  elif [ -z "$done_line" ]; then
    tail -10 "$log"
    fail "$name: no \"Done N runs\" in $log"
  else
    ok "$name ($done_line)"
  fi
done
[ "$found" -eq 1 ] || fail "no fuzz target in tests/fuzz"
finish
