#!/usr/bin/env bash
# oauth-e2e.sh [mcpd binary, default build/mcpd]
# The peer's scripts/test-e2e.sh, both phases, against mcpd's two roles
# started here as SEPARATE processes on free loopback ports (`mcpd auth` and `mcpd mcp`, sharing a
# fresh INTROSPECTION_SECRET; BASE_URI and AUTH_SERVER_URL name those ports). Phase 1: register →
# PKCE → /authorize page (the code is the first state=) → mock IdP callback (its Location must carry
# the client's state) → /token. Phase 2: tests/e2e/mcp-e2e.sh with -H "Authorization: Bearer …".
# Unlike the peer, every expectation is asserted: "ok ..." / "FAIL ..." per check, then
# "N passed, N failed"; the exit status is non-zero when a check failed. Both servers are stopped
# before the script ends (SIGTERM; an unclean exit or a sanitizer report is a failure) and killed
# on any early exit. Tokens are never printed. Every request is bounded (tests/e2e/curl.sh); one
# that hits its bound is reported as "TIMEOUT curl <url>" (no query) and counts as a failure.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=server.sh
. tests/e2e/server.sh # free_port
# shellcheck source=curl.sh
. tests/e2e/curl.sh

BIN=${1:-${MCPD_BIN:-build/mcpd}}
LOGDIR=${MCPD_LOG_DIR:-build/test-logs}
label=$(basename "$(dirname "$BIN")")
PASS=0
FAIL=0
AUTH_PID=""
MCP_PID=""
TMP=$(mktemp -d)
curl_bound "$TMP"

cleanup() {
  local p
  for p in $MCP_PID $AUTH_PID; do
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

check() { # check <name> <got> <wanted ERE>
  if [[ $2 =~ ^($3)$ ]]; then
    echo "ok   $1 ($2)"
    PASS=$((PASS + 1))
  else
    echo "FAIL $1: got '$2', want '$3'"
    FAIL=$((FAIL + 1))
  fi
}
finish() {
  curl_timeouts
  FAIL=$((FAIL + CURL_TIMEOUTS))
  echo "$PASS passed, $FAIL failed"
  [ "$FAIL" -eq 0 ]
  exit
}
bail() { # a step the rest depends on failed
  echo "FAIL $1"
  FAIL=$((FAIL + 1))
  finish
}

for tool in curl jq openssl; do
  type -P "$tool" >/dev/null || bail "$tool is not installed" # not `command -v`: curl is a function here
done
[ -x "$BIN" ] || bail "$BIN is missing (build it first)"

wait_port() { # wait_port <port> <pid>: up to 15 s (the asan build starts slowly)
  for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

stop_role() { # stop_role <name> <pid> <log>: SIGTERM, then check the exit and the log
  local name=$1 pid=$2 log=$3 rc
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  wait "$pid"
  rc=$?
  check "mcpd $name exits 0 on SIGTERM" "$rc" 0
  if grep -qE 'runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer' "$log"; then
    check "mcpd $name: no sanitizer report" "report in $log" none
    grep -A20 -E 'runtime error:|ERROR: (Address|Leak)Sanitizer' "$log" | head -40
  else
    check "mcpd $name: no sanitizer report" none none
  fi
}

# ---------------------------------------------------------------- setup (the peer's steps 2–5) ----
AUTH_PORT=$(free_port)
MCP_PORT=$(free_port)
while [ "$MCP_PORT" = "$AUTH_PORT" ]; do MCP_PORT=$(free_port); done
AUTH_SERVER=http://127.0.0.1:$AUTH_PORT
MCP_SERVER=http://127.0.0.1:$MCP_PORT
NOW=$(date +%s)
USER_ID=e2e-test-$NOW
STATE_PARAM=e2e-test-$NOW
REDIRECT=http://localhost:3000/callback
INTROSPECTION_SECRET=$(openssl rand -hex 24)
export INTROSPECTION_SECRET
ROLE_ARGS=(--port "$MCP_PORT" --auth-port "$AUTH_PORT" --base-uri "$MCP_SERVER" --auth-server-url "$AUTH_SERVER")
mkdir -p "$LOGDIR"
AUTH_LOG=$LOGDIR/oauth-e2e-auth-$label.log
MCP_LOG=$LOGDIR/oauth-e2e-mcp-$label.log
echo "== oauth-e2e ($BIN): auth $AUTH_SERVER, mcp $MCP_SERVER"

"$BIN" auth "${ROLE_ARGS[@]}" >"$AUTH_LOG" 2>&1 &
AUTH_PID=$!
wait_port "$AUTH_PORT" "$AUTH_PID" || { tail -20 "$AUTH_LOG"; bail "mcpd auth did not start"; }
"$BIN" mcp "${ROLE_ARGS[@]}" --features reference >"$MCP_LOG" 2>&1 &
MCP_PID=$!
wait_port "$MCP_PORT" "$MCP_PID" || { tail -20 "$MCP_LOG"; bail "mcpd mcp did not start"; }

check "auth /health (curl -f)" "$(curl -s -f -m 10 "$AUTH_SERVER/health" | jq -r .status 2>/dev/null)" healthy
check "mcp splash page (curl -f)" "$(curl -s -f -m 10 -o /dev/null -w '%{http_code}' "$MCP_SERVER/")" 200
# The MCP role is degraded until it has fetched the AS metadata once (at start, then every
# --auth-check-interval-ms): give it up to 5 s.
st=""
for _ in $(seq 1 100); do
  st=$(curl -s -m 5 "$MCP_SERVER/health" | jq -r .status 2>/dev/null)
  [ "$st" = healthy ] && break
  sleep 0.05
done
check "mcp /health once the AS is known" "$st" healthy
check "POST /mcp without a token" \
  "$(curl -s -o /dev/null -w '%{http_code}' -m 10 -X POST "$MCP_SERVER/mcp" -H 'Content-Type: application/json' \
    -H 'Accept: application/json, text/event-stream' -d '{"jsonrpc":"2.0","id":1,"method":"ping"}')" 401

# ----------------------------------------------------------------------------------- Phase 1 ----
echo "-- Phase 1: OAuth"
# 1. register
curl -s -m 10 -o "$TMP/reg" -w '%{http_code}' -X POST "$AUTH_SERVER/register" -H 'Content-Type: application/json' \
  -d "{\"client_name\":\"e2e-test-client\",\"redirect_uris\":[\"$REDIRECT\"]}" >"$TMP/reg.status"
check "register: status" "$(cat "$TMP/reg.status")" 201
CLIENT_ID=$(jq -r '.client_id // empty' "$TMP/reg" 2>/dev/null)
CLIENT_SECRET=$(jq -r '.client_secret // empty' "$TMP/reg" 2>/dev/null)
check "register: client_id" "$CLIENT_ID" '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}'
check "register: client_secret is 64 hex" "$(printf %s "$CLIENT_SECRET" | wc -c | tr -d ' ')/$([[ $CLIENT_SECRET =~ ^[0-9a-f]+$ ]] && echo hex)" 64/hex
[ -n "$CLIENT_ID" ] || bail "no client_id, cannot go on"

# 2. PKCE, exactly as the peer makes it. Dropping "+/" leaves 43 characters minus one per "+" or
# "/" drawn (about 1.3 on average), so the verifier is shorter than RFC 7636's 43 now and then;
# mcpd accepts 32–128 characters so that this script keeps working (below 32: p < 1e-7).
CODE_VERIFIER=$(openssl rand -base64 32 | tr -d "=+/" | cut -c1-43)
CODE_CHALLENGE=$(printf %s "$CODE_VERIFIER" | openssl dgst -sha256 -binary | openssl base64 | tr -d "=" | tr "+/" "-_")
check "PKCE: verifier length" "${#CODE_VERIFIER}" '3[2-9]|4[0-3]'

# 3. authorize: the code is the first state= in the page
curl -s -m 10 -o "$TMP/authz" -w '%{http_code}' \
  "$AUTH_SERVER/authorize?response_type=code&client_id=$CLIENT_ID&redirect_uri=$REDIRECT&code_challenge=$CODE_CHALLENGE&code_challenge_method=S256&state=$STATE_PARAM" \
  >"$TMP/authz.status"
check "authorize: status" "$(cat "$TMP/authz.status")" 200
AUTH_CODE=$(grep -o 'state=[^"&]*' "$TMP/authz" | cut -d= -f2 | head -1)
check "authorize: first state= in the page is a 64-hex code" "$([[ $AUTH_CODE =~ ^[0-9a-f]{64}$ ]] && echo yes || echo "'${AUTH_CODE:0:20}'")" yes
[ -n "$AUTH_CODE" ] || bail "no authorization code in the page, cannot go on"

# 4. mock IdP callback: 302 whose Location carries the client's state
curl -s -i -m 10 "$AUTH_SERVER/mock-upstream-idp/callback?state=$AUTH_CODE&code=mock-auth-code&userId=$USER_ID" >"$TMP/cb"
check "callback: status" "$(head -1 "$TMP/cb" | awk '{print $2}')" 302
LOCATION=$(grep -i '^location:' "$TMP/cb" | head -1 | cut -d' ' -f2- | tr -d '\r')
if printf %s "$LOCATION" | grep -q "state=$STATE_PARAM"; then has_state=yes; else has_state=no; fi
check "callback: Location carries state=\$STATE_PARAM" "$has_state" yes
ISS_Q=$(jq -rn --arg v "$AUTH_SERVER" '$v|@uri')
if [ "$LOCATION" = "$REDIRECT?code=$AUTH_CODE&state=$STATE_PARAM&iss=$ISS_Q" ]; then loc_ok=yes; else loc_ok=no; fi
check "callback: Location is redirect_uri?code=<code>&state=<state>&iss=<issuer> (RFC 9207)" "$loc_ok" yes
# One issuer string: the AS metadata's issuer, the MCP role's copy of it and the resource
# metadata's authorization server are AUTH_SERVER_URL byte for byte.
check "AS metadata issuer is AUTH_SERVER_URL" "$(curl -s -m 10 "$AUTH_SERVER/.well-known/oauth-authorization-server" | jq -r .issuer)" "$AUTH_SERVER"
check "AS metadata: authorization_response_iss_parameter_supported" "$(curl -s -m 10 "$AUTH_SERVER/.well-known/oauth-authorization-server" | jq -r .authorization_response_iss_parameter_supported)" true
check "MCP role's AS metadata issuer is AUTH_SERVER_URL" "$(curl -s -m 10 "$MCP_SERVER/.well-known/oauth-authorization-server" | jq -r .issuer)" "$AUTH_SERVER"
prm_as=$(curl -s -m 10 "$MCP_SERVER/.well-known/oauth-protected-resource/mcp" | jq -c .authorization_servers)
if [ "$prm_as" = "[\"$AUTH_SERVER\"]" ]; then prm_ok=yes; else prm_ok="no: $prm_as"; fi
check "PRM authorization_servers is [AUTH_SERVER_URL]" "$prm_ok" yes

# 5. token
curl -s -m 10 -o "$TMP/tok" -w '%{http_code}' -X POST "$AUTH_SERVER/token" \
  -H 'Content-Type: application/x-www-form-urlencoded' \
  -d "grant_type=authorization_code&client_id=$CLIENT_ID&client_secret=$CLIENT_SECRET&code=$AUTH_CODE&redirect_uri=$REDIRECT&code_verifier=$CODE_VERIFIER" \
  >"$TMP/tok.status"
check "token: status" "$(cat "$TMP/tok.status")" 200
TOKEN=$(jq -r '.access_token // empty' "$TMP/tok" 2>/dev/null)
check "token: access_token present" "$([ -n "$TOKEN" ] && echo yes || echo no)" yes
check "token: token_type, expires_in, scope" "$(jq -r '"\(.token_type) \(.expires_in) \(.scope)"' "$TMP/tok" 2>/dev/null)" 'Bearer 3600 mcp'
check "token: refresh_token present" "$(jq -r 'if (.refresh_token // "") != "" then "yes" else "no" end' "$TMP/tok" 2>/dev/null)" yes
[ -n "$TOKEN" ] || bail "no access token, cannot run Phase 2"

# ----------------------------------------------------------------------------------- Phase 2 ----
echo "-- Phase 2: MCP with the bearer token (tests/e2e/mcp-e2e.sh)"
out=$(bash tests/e2e/mcp-e2e.sh "$MCP_SERVER" -H "Authorization: Bearer $TOKEN" 2>&1)
rc=$?
printf '%s\n' "$out" | grep -v -E '^[0-9]+ passed, [0-9]+ failed$'
line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
if [ -n "$line" ]; then
  p=${line%% passed*}
  f=$(echo "$line" | sed 's/.* passed, \([0-9]*\) failed/\1/')
else
  p=0 f=1
fi
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
PASS=$((PASS + p))
FAIL=$((FAIL + f))
# The session was the token's user's: the same Phase 2 with a garbage token gets nowhere.
check "Phase 2 initialize with a garbage token" \
  "$(curl -s -o /dev/null -w '%{http_code}' -m 10 -X POST "$MCP_SERVER/mcp" -H 'Authorization: Bearer not-a-token' \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    -d '{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"e2e-test","version":"1.0"}}}')" 401

# ---------------------------------------------------------------------------------- teardown ----
stop_role mcp "$MCP_PID" "$MCP_LOG"
MCP_PID=""
stop_role auth "$AUTH_PID" "$AUTH_LOG"
AUTH_PID=""
finish
