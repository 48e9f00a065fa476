#!/usr/bin/env bash
# Layer: the C hygiene gates: clang-format with the repo's config (no diff), and make lint
# (clang-tidy with .clang-tidy, warnings as errors; cppcheck), and the layer rule
# (scripts/check-layers.sh: no upward include, no include cycle between modules). Prints
# "N passed, N failed" last.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=lib.sh
. tests/layers/lib.sh

LOGDIR=build/test-logs
mkdir -p "$LOGDIR"
mapfile -t files < <(git ls-files '*.c' '*.h')
if [ "${#files[@]}" -eq 0 ]; then
  fail "clang-format: no C files found (git ls-files)"
elif clang-format --dry-run -Werror "${files[@]}" >"$LOGDIR/format.log" 2>&1; then
  ok "clang-format (${#files[@]} files)"
else
  head -30 "$LOGDIR/format.log"
  fail "clang-format (run make format)"
fi
if bash scripts/check-layers.sh >"$LOGDIR/layers.log" 2>&1; then
  ok "layer rule ($(tail -1 "$LOGDIR/layers.log"))"
else
  cat "$LOGDIR/layers.log"
  fail "layer rule (scripts/check-layers.sh)"
fi
if make -s lint >"$LOGDIR/lint.log" 2>&1; then
  ok "make lint"
else
  grep -E 'warning:|error:' "$LOGDIR/lint.log" | head -30
  fail "make lint"
fi
finish
