#!/usr/bin/env bash
# Baseline throughput: MCP ping over Streamable HTTP with wrk, bounded in time, on loopback.
# usage: bench/wrk-ping.sh [connections=64] [seconds=10] [mcpd binary=build/mcpd]
set -euo pipefail
cd "$(dirname "$0")/.."
CONN=${1:-64}; SECS=${2:-10}; BIN=${3:-build/mcpd}
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" mcp --no-auth --port "$PORT" --log-level warning 2>/dev/null &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null' EXIT
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/health" && break; sleep 0.1; done
U="http://127.0.0.1:$PORT/mcp"
SID=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' "$U" \
  -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"wrk","version":"0"}}}' \
  | tr -d '\r' | awk 'tolower($1)=="mcp-session-id:" {print $2}')
SID=$SID wrk -t1 -c"$CONN" -d"${SECS}s" --latency -s bench/ping.lua "$U"
echo "server RSS: $(ps -o rss= -p $PID) KiB"
