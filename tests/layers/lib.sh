# shellcheck shell=bash disable=SC2034 # the variables are read by the sourcing script
# Sourced by every layer (tests/layers/*.sh) and by scripts/test.sh: one way to count checks and
# to bound whatever could hang. A layer prints one line per check and "N passed, N failed" last.
#   ok <what> / fail <what>        one check passed / failed ("ok   …" / "FAIL …")
#   timed_out <what>               a bound was hit: "TIMEOUT <what>", one failure
#   bounded <seconds> <cmd…>       run a command under timeout(1); 124: the bound was hit
#   read_counts <text>             COUNT_P / COUNT_F from the text's last "N passed, N failed" line
#   add_counts <label> <rc> <out>  fold a sub-script's output and counts into this layer
#   run_counted <label> <seconds> <cmd…>   bounded + add_counts, TIMEOUT when the bound was hit
#   layer_bins                     BINS: the mcpd builds a server layer runs against
#   layer_stores                   STORES: the store backends a server layer runs on (memory redis)
#   use_store <store>              the environment of one pass: REDIS_URL unset (memory), or the
#                                  layer's private redis-server, started on first use and flushed
#                                  on every later one, in REDIS_URL (redis)
#   redis_start / redis_stop / redis_flush / redis_kill   that private redis-server
#   store_assert <label> <store> <mcpd log> <base URL>    mcpd's banner and /health name the store
#   store_logs <label> <store> <mcpd logs…>                every banner in the logs names the store
#   store_probe <label> <store> <bin>                      store_assert on a server of its own
#   pass_begin / pass_end <label>  "== <label>: N s", the time of one build × store pass
#   finish                         the closing line (after stopping the private redis-server, a
#                                  check of its own); exits non-zero on a failure or when nothing ran
# The counters are plain shell variables of the sourcing script.

PASSED=0
FAILED=0
COUNT_P=0
COUNT_F=0
SUMMARY_RE='^[0-9]+ passed, [0-9]+ failed$'

ok() {
  echo "ok   $1"
  PASSED=$((PASSED + 1))
}

fail() {
  echo "FAIL $1"
  FAILED=$((FAILED + 1))
}

timed_out() {
  echo "TIMEOUT $1"
  FAILED=$((FAILED + 1))
}

# The command gets its own process group, so a hang is ended with everything it started; -k
# follows up with SIGKILL for a process that ignores SIGTERM. Returns 124 exactly when the bound
# was hit (timeout says 137 when it had to kill, as would any other SIGKILL).
bounded() {
  local secs=$1 start=$SECONDS rc
  shift
  timeout -k 10 "$secs" "$@"
  rc=$?
  if [ "$rc" -eq 137 ] && [ $((SECONDS - start)) -ge "$secs" ]; then rc=124; fi
  return "$rc"
}

read_counts() {
  local line
  line=$(printf '%s\n' "$1" | grep -E "$SUMMARY_RE" | tail -1)
  COUNT_P=0
  COUNT_F=0
  [ -n "$line" ] || return 1
  COUNT_P=${line%% passed*}
  COUNT_F=${line#*passed, }
  COUNT_F=${COUNT_F%% failed}
}

# The sub-script's own summary line is shown as "-- <label>: …" so that the layer's closing line
# stays the only one scripts/test.sh can read, even when the layer dies right after this.
# No summary, a non-zero exit without a failed check, or nothing run at all is one failure.
add_counts() {
  local label=$1 rc=$2 out=$3
  printf '%s\n' "$out" | grep -vE "$SUMMARY_RE"
  if ! read_counts "$out"; then
    fail "$label: no \"N passed, N failed\" line (exit $rc)"
    return
  fi
  echo "-- $label: $COUNT_P passed, $COUNT_F failed"
  PASSED=$((PASSED + COUNT_P))
  FAILED=$((FAILED + COUNT_F))
  if [ "$rc" -ne 0 ] && [ "$COUNT_F" -eq 0 ]; then
    fail "$label exited with status $rc"
  elif [ $((COUNT_P + COUNT_F)) -eq 0 ]; then
    fail "$label ran no checks"
  fi
}

run_counted() {
  local label=$1 secs=$2 out rc
  shift 2
  out=$(bounded "$secs" "$@" 2>&1)
  rc=$?
  if [ "$rc" -eq 124 ]; then
    printf '%s\n' "$out" | grep -vE "$SUMMARY_RE"
    timed_out "$label (no end after ${secs} s)"
    return
  fi
  add_counts "$label" "$rc" "$out"
}

# MCPD_BIN names one build (it wins); MCPD_BINS a space-separated list; by default the normal and
# the sanitizer build, so every layer that starts a server also runs it under ASan+UBSan.
layer_bins() {
  read -r -a BINS <<<"${MCPD_BIN:-${MCPD_BINS:-build/mcpd build-asan/mcpd}}"
}

# ---- store backends ----
# MCPD_STORES names the backends a server layer runs on, in order: "memory redis" by default, or
# one of them. A pass on Redis needs redis-server and redis-cli (scripts/deps.sh installs them):
# without them the pass fails, it is never skipped.
layer_stores() {
  local s
  read -r -a STORES <<<"${MCPD_STORES:-memory redis}"
  for s in "${STORES[@]}"; do
    case $s in
    memory | redis) ;;
    *)
      fail "MCPD_STORES: unknown store '$s' (memory, redis)"
      finish
      ;;
    esac
  done
}

REDIS_PID=""
REDIS_PORT=""
REDIS_DIR=""
REDIS_LOG=""
REDIS_ERR=""
LAYER_NAME=${LAYER_NAME:-${0##*/}}
LAYER_NAME=${LAYER_NAME%.sh}

# A port the kernel just handed out on 127.0.0.1 (released again before the server binds it).
loopback_port() {
  if command -v node >/dev/null 2>&1; then
    node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
  else
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
  fi
}

redis_cli() { # redis_cli <command…>: one command to the private server, bounded (5 s)
  bounded 5 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@" 2>&1
}

# redis_start <log file>: a private redis-server on a free loopback port, no persistence, its own
# temporary directory, stdout to the log. Waits until it answers PING (15 s by the clock, however
# long each try takes; a server that dies at once, e.g. a port taken meanwhile, is retried on
# another port, three tries). Sets REDIS_PID and REDIS_PORT; on failure REDIS_ERR says why.
redis_start() {
  local log=$1 try pid t deadline
  REDIS_ERR=""
  for t in redis-server redis-cli; do
    if ! command -v "$t" >/dev/null 2>&1; then
      REDIS_ERR="$t is not installed (scripts/deps.sh installs redis-server and redis-tools)"
      return 1
    fi
  done
  mkdir -p "$(dirname "$log")"
  REDIS_LOG=$log
  : >"$log"
  REDIS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mcpd-test-redis.XXXXXX") || {
    REDIS_ERR="mktemp failed"
    return 1
  }
  for try in 1 2 3; do
    REDIS_PORT=$(loopback_port) || {
      REDIS_ERR="no free loopback port"
      break
    }
    echo "== redis-server on 127.0.0.1:$REDIS_PORT (try $try)" >>"$log"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
      --dir "$REDIS_DIR" --daemonize no </dev/null >>"$log" 2>&1 &
    pid=$!
    REDIS_PID=$pid
    deadline=$((SECONDS + 15))
    while [ "$SECONDS" -lt "$deadline" ]; do
      if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null
        REDIS_PID=""
        REDIS_ERR="redis-server exited at once (log $log)"
        break
      fi
      if [ "$(redis_cli PING)" = PONG ]; then
        return 0
      fi
      sleep 0.05
    done
    if [ -n "$REDIS_PID" ]; then # alive but no PONG within the bound
      REDIS_ERR="redis-server did not answer PING within 15 s (log $log)"
      redis_kill
      return 1
    fi
  done
  rm -rf "$REDIS_DIR"
  REDIS_DIR=""
  return 1
}

# FLUSHALL: the next pass starts from an empty store (rate-limit counters are keyed by client
# address and window, so two passes within one minute would otherwise share them).
redis_flush() {
  [ -n "$REDIS_PID" ] && [ "$(redis_cli FLUSHALL)" = OK ]
}

# SIGTERM; returns 0 when redis-server exited with status 0 within 10 s.
redis_stop() {
  [ -n "$REDIS_PID" ] || return 0
  local pid=$REDIS_PID rc=0 st
  REDIS_PID=""
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "redis_stop: redis-server (pid $pid) did not exit 10 s after SIGTERM" >&2
    kill -KILL "$pid" 2>/dev/null
    rc=1
  fi
  wait "$pid"
  st=$?
  if [ "$rc" -eq 0 ] && [ "$st" -ne 0 ]; then
    echo "redis_stop: redis-server exited with status $st" >&2
    tail -10 "$REDIS_LOG" >&2
    rc=1
  fi
  rm -rf "$REDIS_DIR"
  REDIS_DIR=""
  return "$rc"
}

redis_kill() { # for an EXIT trap
  if [ -n "$REDIS_PID" ]; then
    kill -KILL "$REDIS_PID" 2>/dev/null
    wait "$REDIS_PID" 2>/dev/null
    REDIS_PID=""
  fi
  [ -z "$REDIS_DIR" ] || rm -rf "$REDIS_DIR"
  REDIS_DIR=""
}

# use_store <store> [label]: the environment of one pass. memory: REDIS_URL and REDIS_PASSWORD
# unset. redis: the layer's private redis-server (started on the first Redis pass, log
# build/test-logs/redis-<layer>.log; FLUSHALL before every later pass) exported as REDIS_URL.
# Returns 1, with one failure counted, when that server cannot be had; the caller then skips the
# pass, which has failed.
use_store() {
  local store=$1 label=${2:-$1}
  unset REDIS_URL REDIS_PASSWORD
  [ "$store" = redis ] || return 0
  if [ -z "$REDIS_PID" ]; then
    if ! redis_start "build/test-logs/redis-$LAYER_NAME.log"; then
      fail "$label: a private redis-server: $REDIS_ERR"
      return 1
    fi
    echo "== private redis-server pid $REDIS_PID on 127.0.0.1:$REDIS_PORT (log $REDIS_LOG)"
  elif ! redis_flush; then
    fail "$label: FLUSHALL on the private redis-server (127.0.0.1:$REDIS_PORT)"
    return 1
  fi
  export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
}

# store_assert <label> <store> <mcpd log> <base URL>: one check that a running mcpd uses the store:
# /health says "storeBackend":"<store>" and the banner line says "(<store> store, …". A pass that
# silently fell back to another store fails here.
store_assert() {
  local label=$1 store=$2 log=$3 base=$4 got banner
  got=$(command curl -s -m 10 "$base/health" | jq -r '.storeBackend // "none"' 2>/dev/null)
  banner=$(grep -m1 -E '^mcpd [^ ]+ \(' "$log" 2>/dev/null)
  if [ "$got" = "$store" ] && [[ $banner == *"($store store, "* ]]; then
    ok "$label: mcpd runs on the $store store (banner and /health)"
  else
    fail "$label: mcpd runs on the $store store: /health storeBackend '${got:-no answer}', banner '${banner:-none}' ($log)"
  fi
}

# store_logs <label> <store> <mcpd log…>: one check that every mcpd banner in the logs names the
# store, and that there is at least one.
store_logs() {
  local label=$1 store=$2 f banner n=0 bad=()
  shift 2
  for f in "$@"; do
    [ -f "$f" ] || continue
    banner=$(grep -m1 -E '^mcpd [^ ]+ \(' "$f") || continue
    n=$((n + 1))
    [[ $banner == *"($store store, "* ]] || bad+=("$f: $banner")
  done
  if [ "$n" -gt 0 ] && [ "${#bad[@]}" -eq 0 ]; then
    ok "$label: all $n mcpd banners name the $store store"
  elif [ "$n" -eq 0 ]; then
    fail "$label: no mcpd banner in its logs (${*:-no logs})"
  else
    fail "$label: ${#bad[@]} of $n mcpd ran on another store than $store"
    printf '  %s\n' "${bad[@]}" | head -10
  fi
}

# store_probe <label> <store> <bin>: store_assert on a server of its own (`mcpd mcp --no-auth`),
# for layers whose servers are started by a sub-script; its clean stop is one more check. Needs
# tests/e2e/server.sh.
store_probe() {
  local label=$1 store=$2 bin=$3 tag
  tag=$(basename "$(dirname "$bin")")-$store
  if ! mcpd_start "$bin" "build/test-logs/$LAYER_NAME-store-probe-$tag.log"; then
    fail "$label: store probe mcpd started"
    return
  fi
  store_assert "$label" "$store" "$MCPD_LOG" "${MCPD_URL%/mcp}"
  if mcpd_stop; then ok "$label: store probe mcpd stopped cleanly"; else fail "$label: store probe mcpd stopped cleanly"; fi
}

PASS_T0=$SECONDS
pass_begin() { PASS_T0=$SECONDS; }
pass_end() { echo "== $1: $((SECONDS - PASS_T0)) s"; }

finish() {
  if [ -n "$REDIS_PID" ]; then
    local port=$REDIS_PORT
    if redis_stop; then
      ok "private redis-server (127.0.0.1:$port) stopped cleanly"
    else
      fail "private redis-server (127.0.0.1:$port) stopped cleanly"
    fi
  fi
  if [ $((PASSED + FAILED)) -eq 0 ]; then
    fail "this layer ran no checks"
  fi
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
  exit
}
