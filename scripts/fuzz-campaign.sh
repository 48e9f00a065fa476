#!/usr/bin/env bash
# A long fuzz campaign (not part of `make test`, which runs a 20,000-input smoke): every
# tests/fuzz/fuzz_*.c target for RUNS inputs (default 10,000,000), starting from its kept corpus
# in tests/fuzz/corpus/<target>/ and merging what it found back into that corpus (libFuzzer
# -merge=1 keeps only inputs that add coverage), so the next campaign and the smoke start further.
# Crashing inputs land in build/fuzz-campaign/<target>-crash-*. Prints one line per target:
# name, runs, seconds, corpus size before and after, exit status. Results go in
# docs/reliability.md ("Fuzzing").
#
# usage: scripts/fuzz-campaign.sh [target ...]      RUNS=10000000 MAX_LEN=4096 JOBS=1
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
RUNS=${RUNS:-10000000}
MAX_LEN=${MAX_LEN:-4096}
OUT=build/fuzz-campaign
mkdir -p "$OUT"
make -s fuzz || exit 2
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do targets+=("$(basename "$f" .c)"); done
fi
status=0
for name in "${targets[@]}"; do
  bin=build-fuzz/fuzz/$name
  corpus=tests/fuzz/corpus/$name
  work=$OUT/$name-work
  mkdir -p "$corpus"
  rm -rf "$work" && mkdir -p "$work"
  before=$(find "$corpus" -type f | wc -l)
  start=$(date +%s)
  "$bin" -runs="$RUNS" -max_len="$MAX_LEN" -timeout=25 -print_final_stats=1 \
    -artifact_prefix="$OUT/$name-" "$work" "$corpus" >"$OUT/$name.log" 2>&1
  rc=$?
  secs=$(($(date +%s) - start))
  "$bin" -merge=1 -max_len="$MAX_LEN" "$corpus" "$work" >"$OUT/$name-merge.log" 2>&1
  after=$(find "$corpus" -type f | wc -l)
  runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$OUT/$name.log" | tail -1)
  echo "$name runs=${runs:-?} seconds=$secs corpus=$before->$after exit=$rc"
  [ "$rc" -eq 0 ] || status=1
done
exit "$status"
