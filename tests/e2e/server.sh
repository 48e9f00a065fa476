# shellcheck shell=bash disable=SC2034 # MCPD_* are read by the sourcing layer
# Sourced by the test layers: start and stop one mcpd on a free loopback port.
#   mcpd_start <bin> <log file> [extra mcpd args...]  sets MCPD_PID, MCPD_PORT, MCPD_URL
#                  (feature packs: $MCPD_FEATURES, default conformance)
#   mcpd_stop      SIGTERM; fails (and says why) on a non-zero exit or a sanitizer report
#   mcpd_kill      for an EXIT trap: SIGKILL a server that is still running
# Needs node or python3 on PATH (to ask the kernel for a free port).

MCPD_PID=""
MCPD_PORT=""
MCPD_URL=""
MCPD_LOG=""

free_port() {
  if command -v node >/dev/null 2>&1; then
    node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
  else
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
  fi
}

mcpd_start() {
  local bin=$1 log=$2
  shift 2
  if [ ! -x "$bin" ]; then
    echo "mcpd_start: $bin is missing (build it first)" >&2
    return 1
  fi
  MCPD_PORT=$(free_port) || return 1
  MCPD_LOG=$log
  mkdir -p "$(dirname "$log")"
  "$bin" mcp --no-auth --features "${MCPD_FEATURES:-conformance}" --port "$MCPD_PORT" "$@" >"$log" 2>&1 &
  MCPD_PID=$!
  MCPD_URL="http://127.0.0.1:$MCPD_PORT/mcp"
  for _ in $(seq 1 300); do # up to 15 s: the asan build starts slowly on a busy machine
    if (exec 3<>"/dev/tcp/127.0.0.1/$MCPD_PORT") 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$MCPD_PID" 2>/dev/null; then
      echo "mcpd_start: $bin exited early:" >&2
      tail -20 "$log" >&2
      MCPD_PID=""
      return 1
    fi
    sleep 0.05
  done
  echo "mcpd_start: $bin did not listen on $MCPD_PORT" >&2
  mcpd_kill
  return 1
}

mcpd_stop() {
  [ -n "$MCPD_PID" ] || return 0
  local pid=$MCPD_PID rc
  MCPD_PID=""
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -0 "$pid" 2>/dev/null && { echo "mcpd_stop: no exit 10 s after SIGTERM" >&2; kill -KILL "$pid"; }
  wait "$pid"
  rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "mcpd_stop: mcpd exited with status $rc" >&2
    tail -30 "$MCPD_LOG" >&2
    return 1
  fi
  if grep -qE 'runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer' "$MCPD_LOG"; then
    echo "mcpd_stop: sanitizer report in $MCPD_LOG" >&2
    grep -A20 -E 'runtime error:|ERROR: (Address|Leak)Sanitizer' "$MCPD_LOG" | head -60 >&2
    return 1
  fi
  return 0
}

mcpd_kill() {
  if [ -n "$MCPD_PID" ]; then
    kill -KILL "$MCPD_PID" 2>/dev/null
    wait "$MCPD_PID" 2>/dev/null
    MCPD_PID=""
  fi
}
