#!/usr/bin/env bash
# The standard mcpd benchmark suite (docs/performance.md): mcpbench against a fresh mcpd per row
# and store, on loopback, bounded (about 3 minutes per store; each mcpbench run also has its
# own hard timeout). Every row is measured on each store backend, side by side: the memory store,
# then Redis (a private redis-server this script starts on a free loopback port and stops at the
# end, flushed before every run). A last row counts Redis commands per tools/call on a warm
# session (INFO commandstats before and after a bounded run of calls on one session).
# Prints one markdown table and writes every raw JSON line to build/bench/results-<date>.jsonl.
#
# usage: bench/run.sh
#   MCPD_BIN=build/mcpd   server binary        DURATION=10   measured seconds per throughput row
#   STORES="memory redis" store backends, one column group each, in this order
#   REPEAT=1              runs per row; the table shows the median (by req/s) of the least
#                         disturbed runs (other CPU within 10 points of the row's lowest)
#   QUIET_WAIT=10         seconds each run may wait for the rest of the machine to go quiet
#   IDLE_SESSIONS="1000 50000"  STREAMS=15000  HOLD=5   sizes of the memory rows (a smoke run
#                         may shrink them; the targets then no longer apply)
#   REDIS_CALLS=1000      tools/call requests of the Redis commands row
#   ERAS_ROUNDS=3         rounds of the 2026-07-28 row (each: a session run and a stateless run)
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${MCPD_BIN:-build/mcpd}
STORES=${STORES:-memory redis}
DURATION=${DURATION:-10}
IDLE_SESSIONS=${IDLE_SESSIONS:-1000 50000}
STREAMS=${STREAMS:-15000}
HOLD=${HOLD:-5}
REDIS_CALLS=${REDIS_CALLS:-1000}
REPEAT=${REPEAT:-1}
ERAS_ROUNDS=${ERAS_ROUNDS:-3}
QUIET_WAIT=${QUIET_WAIT:-10}
OUTDIR=build/bench
MCPBENCH=$OUTDIR/mcpbench
STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
RESULTS=$OUTDIR/results-$STAMP.jsonl
REDIRECT_URI=http://127.0.0.1:53682/callback # never listened on: the flow stops at the code

for store in $STORES; do
  case $store in
    memory | redis) ;;
    *) echo "run.sh: unknown store $store (memory, redis)" >&2; exit 2 ;;
  esac
done
NEED="jq curl openssl python3"
[[ " $STORES " != *" redis "* ]] || NEED="$NEED redis-server redis-cli"
for tool in $NEED; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool is required" >&2; exit 2; }
done
[ -x "$BIN" ] || { echo "run.sh: $BIN is missing (make first)" >&2; exit 2; }
make -s bench
mkdir -p "$OUTDIR"
: >"$RESULTS"
# One binary for the whole suite, even if build/mcpd is rebuilt while it runs.
cp "$BIN" "$OUTDIR/mcpd"
VERSION=$("$BIN" --version 2>/dev/null | head -1)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git status --porcelain src 2>/dev/null)" ] || COMMIT="$COMMIT + uncommitted src changes"
BIN=$OUTDIR/mcpd

# 15,000 streams need 15,000+ descriptors in mcpd too; it inherits this shell's soft limit.
HARD=$(ulimit -Hn)
if [ "$HARD" = unlimited ] || [ "$HARD" -ge 20000 ]; then ulimit -n 20000; else ulimit -n "$HARD"; fi

SPID="" PORT="" AUTH_PORT="" TOKEN="" RPID="" RPORT="" RDIR=""
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
rcli() { timeout 10 redis-cli -h 127.0.0.1 -p "$RPORT" "$@"; }

# The private redis-server of the Redis column: no persistence, its own temporary directory, log
# in build/bench/redis.log; up to 15 s to answer PING.
redis_start() {
  RDIR=$(mktemp -d "${TMPDIR:-/tmp}/mcpd-bench-redis.XXXXXX")
  RPORT=$(free_port)
  redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$RDIR" \
    --daemonize no </dev/null >"$OUTDIR/redis.log" 2>&1 &
  RPID=$!
  for _ in $(seq 300); do
    [ "$(rcli PING 2>/dev/null)" = PONG ] && return 0
    kill -0 "$RPID" 2>/dev/null || break
    sleep 0.05
  done
  echo "run.sh: redis-server did not answer PING; log:" >&2
  tail -20 "$OUTDIR/redis.log" >&2
  exit 1
}
redis_stop() { # SIGTERM, then up to 10 s for the exit
  if [ -n "$RPID" ]; then
    kill "$RPID" 2>/dev/null || true
    for _ in $(seq 200); do kill -0 "$RPID" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$RPID" 2>/dev/null || true
    wait "$RPID" 2>/dev/null || true
  fi
  RPID=""
  [ -z "$RDIR" ] || rm -rf "$RDIR"
  RDIR=""
}
store_args() { # the server flags of one store backend
  case $1 in
    memory) ;;
    redis) echo "--redis-url redis://127.0.0.1:$RPORT" ;;
  esac
}

# mcpbench is one client (one address, one user): lift the per-client connection bound and the
# per-user session bound (MAX_CONNECTIONS_PER_CLIENT, MAX_SESSIONS_PER_USER) for the largest rows.
PER_CLIENT=(--max-connections-per-client 100000 --max-sessions-per-user 0)

# start_server <store> <mcp|all>: a fresh server per row, so RSS rows start from a clean process.
start_server() {
  local store=$1 role=$2
  PORT=$(free_port)
  if [ "$store" = redis ]; then rcli FLUSHALL >/dev/null; fi # every row starts from an empty Redis
  # shellcheck disable=SC2046
  if [ "$role" = all ]; then
    AUTH_PORT=$(free_port)
    "$BIN" all --features reference --log-level warning --port "$PORT" --auth-port "$AUTH_PORT" \
      --base-uri "http://127.0.0.1:$PORT" --auth-server-url "http://127.0.0.1:$AUTH_PORT" \
      "${PER_CLIENT[@]}" $(store_args "$store") >"$OUTDIR/mcpd-$role.log" 2>&1 &
  else
    "$BIN" mcp --no-auth --features reference --log-level warning --port "$PORT" \
      "${PER_CLIENT[@]}" $(store_args "$store") >"$OUTDIR/mcpd-$role.log" 2>&1 &
  fi
  SPID=$!
  for _ in $(seq 100); do # the MCP role of `all` is degraded until it has the AS metadata
    if curl -sf "http://127.0.0.1:$PORT/health" 2>/dev/null | grep -q '"status":"healthy"'; then
      # The row measures the store it names: the server must say so.
      if ! curl -sf "http://127.0.0.1:$PORT/health" | grep -q "\"storeBackend\":\"$store\""; then
        echo "run.sh: mcpd does not run on the $store store:" >&2
        curl -s "http://127.0.0.1:$PORT/health" >&2
        exit 1
      fi
      return 0
    fi
    sleep 0.1
  done
  echo "run.sh: mcpd did not become healthy; log:" >&2
  tail -20 "$OUTDIR/mcpd-$role.log" >&2
  exit 1
}
stop_server() {
  if [ -n "$SPID" ]; then kill "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; fi
  SPID=""
}
trap 'stop_server; redis_stop' EXIT

# The real login (reference-spec §12.1 Phase 1): register → PKCE → /authorize page (its first
# state= is the code) → mock IdP callback → /token.
oauth_token() {
  local as="http://127.0.0.1:$AUTH_PORT" reg cid secret verifier challenge page code
  reg=$(curl -sf -X POST -H 'Content-Type: application/json' "$as/register" \
    -d "{\"client_name\":\"mcpbench\",\"redirect_uris\":[\"$REDIRECT_URI\"]}")
  cid=$(jq -r .client_id <<<"$reg")
  secret=$(jq -r '.client_secret // empty' <<<"$reg")
  verifier=$(openssl rand -base64 48 | tr -d '=+/\n' | cut -c1-43)
  challenge=$(printf %s "$verifier" | openssl dgst -sha256 -binary | openssl base64 -A | tr '+/' '-_' | tr -d '=')
  page=$(curl -sf -G "$as/authorize" --data-urlencode response_type=code --data-urlencode "client_id=$cid" \
    --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "code_challenge=$challenge" \
    --data-urlencode code_challenge_method=S256 --data-urlencode state=bench-state)
  code=$(grep -o 'state=[^"&]*' <<<"$page" | head -1 | cut -d= -f2)
  curl -sf -o /dev/null "$as/mock-upstream-idp/callback?state=$code&code=mock-auth-code&userId=bench-user"
  TOKEN=$(curl -sf -X POST "$as/token" --data-urlencode grant_type=authorization_code \
    --data-urlencode "client_id=$cid" --data-urlencode "client_secret=$secret" \
    --data-urlencode "code=$code" --data-urlencode "redirect_uri=$REDIRECT_URI" \
    --data-urlencode "code_verifier=$verifier" | jq -r '.access_token // empty')
  [ -n "$TOKEN" ] || { echo "run.sh: the OAuth flow gave no access token" >&2; exit 1; }
}

# The rest of the machine's CPU use over one second, in percent of one core.
busy_pct() {
  local a b
  a=$(head -1 /proc/stat)
  sleep 1
  b=$(head -1 /proc/stat)
  awk -v a="$a" -v b="$b" -v n="$(nproc)" 'BEGIN {
    split(a, x); split(b, y); t = 0; i = 0
    for (k = 2; k <= 9; k++) t += y[k] - x[k]
    i = (y[5] - x[5]) + (y[6] - x[6])
    printf "%d", (t > 0 ? (t - i) / t * n * 100 : 0) }'
}
# A shared 2-core machine: wait (bounded) until nothing else is busy before a run starts.
wait_quiet() {
  local waited=0 pct
  while pct=$(busy_pct); [ "$pct" -gt 15 ]; do
    waited=$((waited + 1))
    if [ "$waited" -ge "$QUIET_WAIT" ]; then
      echo "run.sh: machine still ${pct}% busy after ${QUIET_WAIT}s; measuring anyway" >&2
      return
    fi
  done
}

# record <row id> <store> <mcpbench line>: the line tagged with its row, store and suite stamp
# (a run that printed nothing counts as failed), appended to the results file and printed.
record() {
  local line=${3:-'{"errors":-1,"rps":0}'}
  line=$(jq -c --arg row "$1" --arg store "$2" --arg at "$STAMP" '. + {row:$row,store:$store,at:$at}' <<<"$line")
  echo "$line" >>"$RESULTS"
  echo "$line"
}

# bench <row id> <store> <mcp|all> <mcpbench args…>: REPEAT runs, each on a fresh server; prints
# the median run (by .rps) and appends every run to the results file.
bench() {
  local id=$1 store=$2 role=$3 runs=() line path=/mcp
  shift 3
  [ "$1" = --mode ] && [ "$2" = health ] && path=/health
  for _ in $(seq "$REPEAT"); do
    wait_quiet
    start_server "$store" "$role"
    local auth=()
    if [ "$role" = all ]; then oauth_token; auth=(--token "$TOKEN"); fi
    line=$("$MCPBENCH" --url "http://127.0.0.1:$PORT$path" --pid "$SPID" "${auth[@]}" "$@" \
      2>>"$OUTDIR/mcpbench-$STAMP.log") || true
    stop_server
    line=$(record "$id" "$store" "$line")
    runs+=("$line")
  done
  printf '%s\n' "${runs[@]}" | jq -s -c '(map(.cpu_pct.other // 0) | min) as $m
    | map(select((.cpu_pct.other // 0) <= $m + 10)) | sort_by(.rps) | .[(length / 2 | floor)]'
}

# eras <store>: the 2026-07-28 row's runs. One server; ERAS_ROUNDS rounds, each a run with
# sessions (2025-11-25, deleted at the end) and a stateless run (2026-07-28: no session, _meta on
# every request), the order swapped every round so neither mode always goes second; echo, c=64,
# DURATION s each. Prints two lines: the median run (by .rps) of the session runs, then of the
# stateless runs; every run goes to the results file.
eras() {
  local store=$1 r pv line order session=() stateless=()
  start_server "$store" mcp
  for r in $(seq "$ERAS_ROUNDS"); do
    order="2025-11-25 2026-07-28"
    [ $((r % 2)) -eq 1 ] || order="2026-07-28 2025-11-25"
    for pv in $order; do
      wait_quiet
      local extra=()
      [ "$pv" = 2026-07-28 ] || extra=(--delete)
      line=$("$MCPBENCH" --url "http://127.0.0.1:$PORT/mcp" --pid "$SPID" --mode call --tool echo \
        --connections 64 --duration "$DURATION" --protocol-version "$pv" "${extra[@]}" \
        2>>"$OUTDIR/mcpbench-$STAMP.log") || true
      line=$(record "eras-$pv" "$store" "$line")
      if [ "$pv" = 2026-07-28 ]; then stateless+=("$line"); else session+=("$line"); fi
    done
  done
  stop_server
  printf '%s\n' "${session[@]}" | jq -s -c 'sort_by(.rps) | .[(length / 2 | floor)] + {errors: (map(.errors) | add)}'
  printf '%s\n' "${stateless[@]}" | jq -s -c 'sort_by(.rps) | .[(length / 2 | floor)] + {errors: (map(.errors) | add)}'
}

fmt() { # fmt <number> [decimals]: with thousands separators, whatever the locale
  printf "%.${2:-0}f" "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'
}
# cells <json> <value> <p50/p99> <result>: one store's cells of a row. "other CPU" is what the rest
# of the machine used during the measured window (percent of one core): well above 0, the run is
# noisy.
cells() {
  local other
  other=$(jq -r 'if .cpu_pct.other == null then "—" else "\(.cpu_pct.other)%" end' <<<"$1")
  printf ' %s | %s | %s | %s | %s |' "$2" "$3" "$(jq .errors <<<"$1")" "$4" "$other"
}
lat() { jq -r '"\(.latency_ms.p50) / \(.latency_ms.p99) ms"' <<<"$1"; }
verdict() { # verdict <json> <jq condition>: "pass" needs the condition and zero errors
  if jq -e "(.errors == 0) and ($2)" <<<"$1" >/dev/null; then echo pass; else echo "**miss**"; fi
}

rps() { fmt "$(jq .rps <<<"$1")"; }
mib() { fmt "$(jq '.server_rss_kib / 1024' <<<"$1")" 1; }

# Each row: "| metric | target |" then the cells of every store, measured one after the other.
declare -A REF # the no-auth c=64 echo rate per store, for the authorization row
suite() {
  local j d=$DURATION c n line store
  line="| bare HTTP ceiling (GET /health, c=64) | — |"
  for store in $STORES; do
    j=$(bench health "$store" mcp --mode health --connections 64 --duration "$d")
    line+=$(cells "$j" "$(rps "$j") req/s" "$(lat "$j")" "$(verdict "$j" true)")
  done
  echo "$line"
  for c in 1 16; do
    line="| tools/call echo, c=$c | — |"
    for store in $STORES; do
      j=$(bench "call-c$c" "$store" mcp --mode call --tool echo --connections "$c" --duration "$d")
      line+=$(cells "$j" "$(rps "$j") req/s" "$(lat "$j")" "$(verdict "$j" true)")
    done
    echo "$line"
  done
  line="| tools/call echo, c=64 | ≥ 35,000 req/s, p99 ≤ 5 ms |"
  for store in $STORES; do
    j=$(bench call-c64 "$store" mcp --mode call --tool echo --connections 64 --duration "$d")
    REF[$store]=$(jq .rps <<<"$j")
    line+=$(cells "$j" "$(rps "$j") req/s" "$(lat "$j")" "$(verdict "$j" '.rps >= 35000 and .latency_ms.p99 <= 5')")
  done
  echo "$line"
  line="| tools/call echo, c=64, 2026-07-28 (stateless) against sessions, alternating on one server | stateless ≥ session |"
  for store in $STORES; do
    local pair session stateless
    pair=$(eras "$store")
    session=$(sed -n 1p <<<"$pair")
    stateless=$(sed -n 2p <<<"$pair")
    j=$(jq -c --argjson s "$session" '. + {errors: (.errors + $s.errors), session_rps: $s.rps}' <<<"$stateless")
    line+=$(cells "$j" "$(rps "$j") req/s against $(fmt "$(jq .session_rps <<<"$j")") ($(jq -r '(.rps / .session_rps * 100 | round | tostring) + "%"' <<<"$j"); medians of $ERAS_ROUNDS each)" \
      "$(lat "$j")" "$(verdict "$j" '.rps >= .session_rps')")
  done
  echo "$line"
  line="| resources/list pages (10-page walks), c=64 | — |"
  for store in $STORES; do
    j=$(bench list "$store" mcp --mode list --connections 64 --duration "$d")
    line+=$(cells "$j" "$(rps "$j") req/s ($(fmt "$(jq .walks <<<"$j")") walks of $(jq .resources_per_walk <<<"$j"))" \
      "$(lat "$j")" "$(verdict "$j" true)")
  done
  echo "$line"
  for n in $IDLE_SESSIONS; do
    line="| $(fmt "$n") idle sessions: mcpd RSS per session | ≤ 4 KiB |"
    for store in $STORES; do
      j=$(bench "idle-$n" "$store" mcp --mode idle --sessions "$n" --connections 64 --duration "$HOLD")
      line+=$(cells "$j" "$(jq .rss_per_session_kib <<<"$j") KiB (RSS $(mib "$j") MiB)" "—" \
        "$(verdict "$j" ".rss_per_session_kib <= 4 and .sessions == $n")")
    done
    echo "$line"
  done
  line="| $(fmt "$STREAMS") open SSE streams: mcpd RSS | $(fmt "$STREAMS") open, < 256 MiB |"
  for store in $STORES; do
    j=$(bench "streams-$STREAMS" "$store" mcp --mode streams --sessions "$STREAMS" --connections 64 --duration "$HOLD")
    line+=$(cells "$j" "$(fmt "$(jq .streams_open <<<"$j")") streams, RSS $(mib "$j") MiB ($(jq .rss_per_session_kib <<<"$j") KiB each)" \
      "—" "$(verdict "$j" ".streams_open == $STREAMS and .server_rss_kib < 262144")")
  done
  echo "$line"
  line="| sessions opened per second, c=64 | ≥ 10,000 /s |"
  for store in $STORES; do
    j=$(bench open "$store" mcp --mode open --connections 64 --duration "$d")
    line+=$(cells "$j" "$(fmt "$(jq .sessions_per_s <<<"$j")") sessions/s" "$(lat "$j") per request" \
      "$(verdict "$j" '.sessions_per_s >= 10000')")
  done
  echo "$line"
  line="| tools/call echo, c=64, authorization on | within 10% of no-auth |"
  for store in $STORES; do
    j=$(bench call-c64-auth "$store" all --mode call --tool echo --connections 64 --duration "$d")
    line+=$(cells "$j" "$(rps "$j") req/s ($(jq -r --argjson ref "${REF[$store]}" '(.rps / $ref * 100 | round | tostring) + "%"' <<<"$j") of no-auth)" \
      "$(lat "$j")" "$(verdict "$j" ".rps >= 0.9 * ${REF[$store]}")")
  done
  echo "$line"
  line="| Redis commands per tools/call echo on a warm session | — |"
  for store in $STORES; do
    if [ "$store" = redis ]; then
      line+=" $(redis_per_call) | — | — | — | — |"
    else
      line+=" — | — | — | — | — |"
    fi
  done
  echo "$line"
}

# calls_total: the calls of every command in INFO commandstats but INFO itself (this probe's own).
calls_total() {
  rcli INFO commandstats | tr -d '\r' | awk -F'[:=,]' '/^cmdstat_/ && $1 != "cmdstat_info" { s += $3 } END { print s + 0 }'
}
# per_command: "<calls> <command>" per command, INFO excluded.
per_command() {
  rcli INFO commandstats | tr -d '\r' | awk -F'[:=,]' '/^cmdstat_/ && $1 != "cmdstat_info" { sub(/^cmdstat_/, "", $1); print $3, $1 }'
}

# redis_per_call: a fresh `mcpd mcp` on the flushed Redis; one session opened by curl (initialize,
# notifications/initialized) and warmed by 10 calls; then REDIS_CALLS tools/call echo on it, one
# curl process, one keep-alive connection, each answer checked ("Echo: m<i>"), bounded (120 s).
# Prints (Redis commands during the run) / REDIS_CALLS and the commands that make it up.
redis_per_call() {
  local base sid cfg before after ok n b a per
  start_server redis mcp
  base="http://127.0.0.1:$PORT/mcp"
  sid=$(curl -sf -m 10 -D - -o /dev/null -X POST "$base" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"run.sh","version":"1"}}}' |
    tr -d '\r' | awk 'tolower($1) == "mcp-session-id:" { print $2 }')
  [ -n "$sid" ] || { echo "run.sh: no session id from initialize" >&2; stop_server; echo "setup failed"; return; }
  curl -sf -m 10 -o /dev/null -X POST "$base" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' -H "Mcp-Session-Id: $sid" -H 'MCP-Protocol-Version: 2025-11-25' \
    -d '{"jsonrpc":"2.0","method":"notifications/initialized"}'
  cfg=$OUTDIR/redis-calls.curl
  call_config() { # call_config <first id> <count>
    local k
    for ((k = $1; k < $1 + $2; k++)); do
      printf 'url = "%s"\nheader = "Content-Type: application/json"\nheader = "Accept: application/json, text/event-stream"\n' "$base"
      printf 'header = "Mcp-Session-Id: %s"\nheader = "MCP-Protocol-Version: 2025-11-25"\n' "$sid"
      printf 'data = "{\\"jsonrpc\\":\\"2.0\\",\\"id\\":%d,\\"method\\":\\"tools/call\\",\\"params\\":{\\"name\\":\\"echo\\",\\"arguments\\":{\\"message\\":\\"m%d\\"}}}"\n' "$k" "$k"
      [ "$k" -eq $(($1 + $2 - 1)) ] || printf 'next\n'
    done
  }
  call_config 1 10 >"$cfg"
  timeout 60 curl -s -K "$cfg" >/dev/null || true # warm-up: session cache, TTL refresh
  call_config 1000 "$REDIS_CALLS" >"$cfg"
  b=$(per_command)
  before=$(calls_total)
  ok=$(timeout 120 curl -s -K "$cfg" | grep -o 'Echo: m[0-9]*' | sort -u | wc -l) || true
  after=$(calls_total)
  a=$(per_command)
  stop_server
  n=$REDIS_CALLS
  if [ "$ok" -ne "$n" ]; then
    echo "run.sh: Redis commands row: $ok of $n calls answered" >&2
    echo "**$ok of $n calls answered**"
    return
  fi
  per=$(awk -v x="$((after - before))" -v n="$n" 'BEGIN { printf "%.2f", x / n }')
  # The commands that make up the figure, per call, largest first.
  printf '%s (%s; %d commands over %d calls)' "$per" "$(LC_ALL=C join -1 2 -2 2 -a 2 -e 0 -o 0,1.1,2.1 \
    <(LC_ALL=C sort -k2 <<<"$b") <(LC_ALL=C sort -k2 <<<"$a") | awk -v n="$n" '{ d = $3 - $2; if (d > 0) printf "%s %.2f\n", toupper($1), d / n }' |
    sort -k2 -rn | paste -sd, | sed 's/,/, /g')" "$((after - before))" "$n"
}

if [[ " $STORES " == *" redis "* ]]; then redis_start; fi
echo "mcpd benchmark, $STAMP, $(nproc) cores shared by server and load generator, $VERSION ($COMMIT), REPEAT=$REPEAT, load average before: $(cut -d' ' -f1-3 /proc/loadavg)${RPID:+, Redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') on loopback}"
echo
head="| metric | target |"
rule="|---|---|"
for store in $STORES; do
  head+=" $store: value | p50 / p99 | errors | result | other CPU |"
  rule+="---|---|---|---|---|"
done
echo "$head"
echo "$rule"
suite
echo
echo "raw results: $RESULTS"
