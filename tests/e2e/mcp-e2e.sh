#!/usr/bin/env bash
# mcp-e2e.sh <server-url> [extra curl args, e.g. -H "Authorization: Bearer $TOKEN"]
# Phase 2 of the peer's scripts/test-e2e.sh in bash + curl + jq, against a running mcpd serving
# the reference feature pack. <server-url> is the server's base URL
# (http://host:port) or its /mcp endpoint. Unlike the peer's script, every expectation is asserted:
# one "ok ..." / "FAIL ..." line per check, then "N passed, N failed"; the exit status is non-zero
# when a check failed. Requests are exactly the peer's: protocolVersion 2024-11-05 and no
# MCP-Protocol-Version header, so each POST reply is SSE whose only data: line is the JSON answer.
# Every request is bounded (tests/e2e/curl.sh); one that hits its bound is reported as
# "TIMEOUT curl <url>" and counts as a failure.
set -uo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 <server-url> [curl args...]" >&2
  exit 2
fi
U=${1%/}
case "$U" in
*/mcp) ;;
*) U="$U/mcp" ;;
esac
shift
X=("$@")

for tool in curl jq; do
  command -v "$tool" >/dev/null || {
    echo "FAIL $tool is not installed"
    echo "0 passed, 1 failed"
    exit 1
  }
done

# shellcheck source=curl.sh
. "$(dirname "$0")/curl.sh"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
curl_bound "$TMP"
PASS=0
FAIL=0

# check <name> <got> <wanted ERE>
check() {
  if [[ $2 =~ ^($3)$ ]]; then
    echo "ok   $1 ($2)"
    PASS=$((PASS + 1))
  else
    echo "FAIL $1: got '$2', want '$3'"
    FAIL=$((FAIL + 1))
  fi
}

H=(-H 'Accept: application/json, text/event-stream' -H 'Content-Type: application/json' "${X[@]}")

# rpc <body>: POST with the session id; the raw SSE body goes to $TMP/body, the JSON of its data:
# lines to stdout (as the peer reads it: grep '^data: ' | sed 's/^data: //').
rpc() {
  curl -s -m 20 "${H[@]}" -H "Mcp-Session-Id: $SESSION_ID" -X POST "$U" -d "$1" >"$TMP/body"
  grep '^data: ' "$TMP/body" | sed 's/^data: //'
}

# ---- 1. initialize (curl -i; the session id is read from the header line, as the peer does) ----
INIT='{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"e2e-test","version":"1.0"}}}'
curl -s -i -m 20 "${H[@]}" -X POST "$U" -d "$INIT" >"$TMP/init"
status=$(head -1 "$TMP/init" | awk '{print $2}')
check "initialize status" "${status:-none}" 200
SESSION_ID=$(grep -i 'mcp-session-id:' "$TMP/init" | head -1 | awk '{print $2}' | tr -d '\r')
check "initialize: mcp-session-id header line" "$SESSION_ID" '[!-~]+'
init_json=$(grep '^data: ' "$TMP/init" | sed 's/^data: //')
check "initialize: protocolVersion" "$(jq -r '.result.protocolVersion' <<<"$init_json" 2>/dev/null)" '2024-11-05'
check "initialize: serverInfo" \
  "$(jq -c '.result.serverInfo' <<<"$init_json" 2>/dev/null)" '\{"name":"example-servers/feature-reference","version":"1\.0\.0"\}'

# ---- 2. tools/list and the echo call ----
tools_json=$(rpc '{"jsonrpc":"2.0","id":"tools","method":"tools/list"}')
if grep -q '^event: message' "$TMP/body"; then ev=yes; else ev=no; fi
check "tools/list: reply is an SSE 'event: message'" "$ev" yes
check "tools/list: exactly one data: line" "$(grep -c '^data: ' "$TMP/body")" 1
check "tools/list: tool count" "$(jq '.result.tools | length' <<<"$tools_json" 2>/dev/null)" 7
check "tools/list: tool names" "$(jq -r '[.result.tools[].name] | join(",")' <<<"$tools_json" 2>/dev/null)" \
  'echo,add,longRunningOperation,sampleLLM,getTinyImage,annotatedMessage,getResourceReference'
echo_json=$(rpc '{"jsonrpc":"2.0","id":"echo","method":"tools/call","params":{"name":"echo","arguments":{"message":"E2E working!"}}}')
check "tools/call echo" "$(jq -r '.result.content[0].text' <<<"$echo_json" 2>/dev/null)" 'Echo: E2E working!'

# ---- 3. resources/list, following nextCursor until it is absent ----
TOTAL=0
PAGE=0
CURSOR=""
CURSORS=""
LAST_HAS_NEXT=""
while :; do
  PAGE=$((PAGE + 1))
  if [ -z "$CURSOR" ]; then params='{}'; else params=$(jq -cn --arg c "$CURSOR" '{cursor:$c}'); fi
  page_json=$(rpc "{\"jsonrpc\":\"2.0\",\"id\":\"resources$PAGE\",\"method\":\"resources/list\",\"params\":$params}")
  n=$(jq '.result.resources | length' <<<"$page_json" 2>/dev/null)
  TOTAL=$((TOTAL + ${n:-0}))
  CURSOR=$(jq -r '.result.nextCursor // empty' <<<"$page_json" 2>/dev/null)
  LAST_HAS_NEXT=$(jq -r '.result | has("nextCursor")' <<<"$page_json" 2>/dev/null)
  if [ -z "$CURSOR" ] || [ "$PAGE" -ge 20 ]; then break; fi
  CURSORS="$CURSORS$CURSOR "
done
check "resources/list: pages" "$PAGE" 10
check "resources/list: resources" "$TOTAL" 100
check "resources/list: cursors" "${CURSORS% }" 'MTA= MjA= MzA= NDA= NTA= NjA= NzA= ODA= OTA='
check "resources/list: last page has no nextCursor key" "${LAST_HAS_NEXT:-none}" false

# ---- 4. prompts/list ----
prompts_json=$(rpc '{"jsonrpc":"2.0","id":"prompts","method":"prompts/list"}')
check "prompts/list: prompt count" "$(jq '.result.prompts | length' <<<"$prompts_json" 2>/dev/null)" 3

# Not in the peer's script: end the session so the server does not keep it for its TTL.
if [ -n "$SESSION_ID" ]; then
  curl -s -o /dev/null -m 10 -X DELETE "${X[@]}" -H "Mcp-Session-Id: $SESSION_ID" "$U" || true
fi

curl_timeouts
FAIL=$((FAIL + CURL_TIMEOUTS))
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
