#!/usr/bin/env bash
# rawcheck.sh <mcp-url> <protocol-version> [extra curl args, e.g. -H "Authorization: Bearer $T"]
# The raw Streamable HTTP checks that no SDK client exercises on purpose, with asserted status
# codes and, where the server names its refusal, the exact JSON body: bad headers, wrong methods
# and media types, foreign Origin/Host on /mcp and on the legacy /sse and /message routes, dead
# sessions, 2025-03-26 batches; the splash page's CSP and HSTS for the URL's scheme and its
# assets. A refusal is only checked beside a control that the same request
# without the foreign header is served. One line per check ("ok ..." / "FAIL ..."), then
# "N passed, N failed". Every request is bounded (tests/e2e/curl.sh); one that hits its bound is
# reported as "TIMEOUT curl <url>" and counts as a failure.
set -uo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 <mcp-url> <protocol-version> [curl args...]" >&2
  exit 2
fi
U=$1
PV=$2
shift 2
X=("$@")
BASE=${U%/mcp}
ORIGIN=$(printf %s "$U" | sed -E 's#^(https?://[^/]+).*#\1#')

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

# check_is <name> <got> <wanted, verbatim>
check_is() {
  if [ "$2" = "$3" ]; then
    echo "ok   $1 ($2)"
    PASS=$((PASS + 1))
  else
    echo "FAIL $1: got '$2', want '$3'"
    FAIL=$((FAIL + 1))
  fi
}

H=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' "${X[@]}")
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"'$PV'","capabilities":{},"clientInfo":{"name":"rawcheck","version":"0"}}}'
PING='{"jsonrpc":"2.0","id":2,"method":"ping"}'

# post <curl args...>: POST to U, print the status code (000 when the connection failed).
post() {
  curl -s -o "$TMP/body" -w '%{http_code}' "$@" -X POST "$U"
}

# answer <curl args incl. URL>: "<status> <body>" of one request.
answer() {
  local code
  rm -f "$TMP/abody" # a request that fails must not show the previous body
  code=$(curl -s -o "$TMP/abody" -w '%{http_code}' "$@")
  printf '%s %s' "$code" "$(cat "$TMP/abody" 2>/dev/null)"
}

# The JSON-RPC error body mcpd sends with a refusal (no id: it answers no request).
err() { printf '{"jsonrpc":"2.0","id":null,"error":{"code":%s,"message":"%s"}}' "$1" "$2"; }
BAD_ORIGIN=$(err -32000 'Forbidden: invalid Origin header')
BAD_HOST=$(err -32000 'Forbidden: invalid Host header')
NOT_ALLOWED=$(err -32000 'Method not allowed')
BAD_TYPE=$(err -32000 'Unsupported Media Type: Content-Type must be application/json')
NO_SESSION=$(err -32001 'Session not found')

code=$(curl -s -D "$TMP/hdr" -o "$TMP/body" -w '%{http_code}' "${H[@]}" -X POST "$U" -d "$INIT")
check "initialize" "$code" 200
SID=$(grep -i '^mcp-session-id:' "$TMP/hdr" | head -1 | cut -d: -f2- | tr -d ' \r')
check "initialize sets Mcp-Session-Id" "$SID" '[!-~]+'
NEG=$(grep -o '"protocolVersion":"[^"]*"' "$TMP/body" 2>/dev/null | head -1 | cut -d'"' -f4)
check "initialize echoes protocolVersion" "${NEG:-none}" "$PV"
S=(-H "Mcp-Session-Id: $SID" -H "MCP-Protocol-Version: $PV")

check "notifications/initialized" "$(post "${H[@]}" "${S[@]}" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}')" 202
check "ping" "$(post "${H[@]}" "${S[@]}" -d "$PING")" 200
# Ids come back exactly as sent: integers past 2^53 (where JavaScript, and jq, would round) and
# strings (compared after jq decodes the escapes).
for id in 9007199254740993 -9223372036854775808 '"\u00e9t\u00e9-1"' '"x y"'; do
  post "${H[@]}" "${S[@]}" -d '{"jsonrpc":"2.0","id":'"$id"',"method":"ping"}' >/dev/null
  got=$(sed -n 's/^data: *//p' "$TMP/body" | head -1)
  [ -n "$got" ] || got=$(cat "$TMP/body")
  check_is "ping with id $id is answered with that id" "$(printf '%s' "$got" | grep -o '"id":.*[^}]' | head -1)" \
    "\"id\":$(case $id in \"*) printf '%s' "$id" | jq -c . ;; *) printf '%s' "$id" ;; esac)"
done
# A client value quoted in an error is cut to 200 bytes without splitting a character: 199 'a'
# and an 'é' (2 bytes) keep only the 'a's, and the error keeps its message.
A199=$(printf 'a%.0s' $(seq 1 199))
post "${H[@]}" "${S[@]}" -d '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"'"$A199"'\u00e9","arguments":{}}}' >/dev/null
got=$(sed -n 's/^data: *//p' "$TMP/body" | head -1)
[ -n "$got" ] || got=$(cat "$TMP/body")
check_is "unknown tool named 199 a + e-acute: message cut before the character" \
  "$(printf '%s' "$got" | jq -r '.error.message' 2>/dev/null)" "Unknown tool: $A199"
check "bad MCP-Protocol-Version" \
  "$(post "${H[@]}" -H "Mcp-Session-Id: $SID" -H 'MCP-Protocol-Version: 1999-01-01' -d "$PING")" 400
check "request without session" "$(post "${H[@]}" -d "$PING")" 400
check "Accept without text/event-stream" \
  "$(post -H 'Content-Type: application/json' -H 'Accept: application/json' "${X[@]}" "${S[@]}" -d "$PING")" 406
check_is "POST /mcp with Content-Type text/plain" \
  "$(answer -X POST -H 'Content-Type: text/plain' -H 'Accept: application/json, text/event-stream' "${X[@]}" "${S[@]}" -d "$PING" "$U")" \
  "415 $BAD_TYPE"
for m in PUT PATCH; do
  check_is "$m /mcp" "$(answer -X "$m" "${H[@]}" "${S[@]}" -d "$PING" -D "$TMP/mhdr" "$U")" "405 $NOT_ALLOWED"
  check_is "$m /mcp: Allow header" "$(grep -i '^allow:' "$TMP/mhdr" | cut -d: -f2- | tr -d '\r' | sed 's/^ *//')" \
    'GET, POST, DELETE'
done

# The standalone GET stream stays open: -m 2 cuts it on purpose (so not through the wrapper that
# reports a cut as a timeout), and the headers tell what was sent.
command curl -s -m 2 -D "$TMP/ghdr" -o /dev/null -H 'Accept: text/event-stream' "${X[@]}" "${S[@]}" "$U"
gstatus=$(head -1 "$TMP/ghdr" | awk '{print $2}')
gtype=$(grep -i '^content-type:' "$TMP/ghdr" | head -1 | cut -d: -f2- | tr -d ' \r')
check "GET opens an SSE stream" "${gstatus:-none} ${gtype:-none}" '200 text/event-stream(;.*)?'

if [ "$PV" = "2025-03-26" ]; then
  # 2025-03-26 allows JSON-RPC batches; the answer is one array (JSON) or events (SSE).
  code=$(curl -s -D "$TMP/bhdr" -o "$TMP/body" -w '%{http_code}' "${H[@]}" "${S[@]}" -X POST "$U" \
    -d '[{"jsonrpc":"2.0","id":"b1","method":"ping"},{"jsonrpc":"2.0","id":"b2","method":"ping"}]')
  check "batch of two pings" "$code" 200
  if grep -qi '^content-type: *text/event-stream' "$TMP/bhdr"; then
    ids=$(sed -n 's/^data: *//p' "$TMP/body" | jq -r '(if type == "array" then .[] else . end) | .id' 2>/dev/null | sort | tr '\n' ' ')
  else
    ids=$(jq -r '.[] | .id' "$TMP/body" 2>/dev/null | sort | tr '\n' ' ')
  fi
  check "batch answered with two responses" "${ids% }" 'b1 b2'
fi

# DNS-rebinding protection on every MCP route. The control (the server's own origin) shows that
# the refusal is the foreign header's doing.
FOREIGN=(-H 'Origin: http://evil.example.com')
OWN=(-H "Origin: $ORIGIN")
check "/mcp: initialize with its own Origin" "$(post "${H[@]}" "${OWN[@]}" -d "$INIT")" 200
# A browser client must be able to read the session and version headers and send them back.
check_is "/mcp: CORS exposes the MCP headers to its own Origin" \
  "$(curl -s -o /dev/null -D - -X POST "${H[@]}" "${OWN[@]}" -d "$INIT" "$U" | tr -d '\r' | sed -n 's/^access-control-expose-headers: //Ip')" \
  'Mcp-Session-Id, MCP-Protocol-Version, WWW-Authenticate'
check_is "/mcp: a preflight allows the MCP request headers" \
  "$(curl -s -o /dev/null -D - -X OPTIONS "${OWN[@]}" -H 'Access-Control-Request-Method: POST' "$U" | tr -d '\r' | sed -n 's/^access-control-allow-headers: //Ip')" \
  'Content-Type, Authorization, Mcp-Session-Id, MCP-Protocol-Version, Last-Event-ID, Accept'
check_is "/mcp: foreign Origin" "$(answer -X POST "${H[@]}" "${FOREIGN[@]}" -d "$INIT" "$U")" "403 $BAD_ORIGIN"
check_is "/mcp: foreign Host" "$(answer -X POST "${H[@]}" -H 'Host: evil.example.com' -d "$INIT" "$U")" "403 $BAD_HOST"
# /sse streams on: -m 2 cuts the accepted stream on purpose; a foreign Origin that were wrongly
# accepted would stream too, and -m 5 ends it with the status telling.
rm -f "$TMP/shdr" "$TMP/sbody"
command curl -s -m 2 -D "$TMP/shdr" -o "$TMP/sbody" -H 'Accept: text/event-stream' "${X[@]}" "${OWN[@]}" "$BASE/sse"
check "GET /sse with its own Origin opens the legacy stream" \
  "$(head -1 "$TMP/shdr" 2>/dev/null | awk '{print $2}') $(sed -n 's/^data: *//p' "$TMP/sbody" 2>/dev/null | head -1 | tr -d '\r')" \
  '200 /message\?sessionId=[!-~]+'
check_is "GET /sse: foreign Origin" \
  "$(rm -f "$TMP/abody"; command curl -s -m 5 -o "$TMP/abody" -w '%{http_code}' -H 'Accept: text/event-stream' "${X[@]}" "${FOREIGN[@]}" "$BASE/sse") $(cat "$TMP/abody" 2>/dev/null)" \
  "403 $BAD_ORIGIN"
check_is "POST /message to an unknown session with its own Origin" \
  "$(answer -X POST "${H[@]}" "${OWN[@]}" -d "$PING" "$BASE/message?sessionId=nope")" "404 $NO_SESSION"
check_is "POST /message: foreign Origin" \
  "$(answer -X POST "${H[@]}" "${FOREIGN[@]}" -d "$PING" "$BASE/message?sessionId=nope")" "403 $BAD_ORIGIN"

check "DELETE session" "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "${X[@]}" "${S[@]}" "$U")" '200|204'
check "deleted session" "$(post "${H[@]}" "${S[@]}" -d "$PING")" 404
check "unknown session" \
  "$(post "${H[@]}" -H 'Mcp-Session-Id: nope' -H "MCP-Protocol-Version: $PV" -d "$PING")" 404

# The splash page as a browser loads it. Its CSP and HSTS follow the URL's scheme: over http,
# upgrade-insecure-requests or block-all-mixed-content would send the page's own stylesheet and
# logo to https, where nothing answers, at any hostname but loopback.
BROWSER=(-H 'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8')
curl -s -D "$TMP/splash-headers" -o "$TMP/splash" "${X[@]}" "${BROWSER[@]}" "$BASE/" >/dev/null
splash_header() { tr -d '\r' <"$TMP/splash-headers" | sed -n "s/^$1: //Ip" | head -1; }
check "GET / serves the splash page" \
  "$(sed -n 's#^HTTP/[0-9.]* \([0-9]*\).*#\1#p' "$TMP/splash-headers" | head -1) $(splash_header Content-Type)" \
  '200 text/html; charset=utf-8'
csp=$(splash_header Content-Security-Policy)
hsts=$(splash_header Strict-Transport-Security)
if [[ $BASE == https://* ]]; then
  check "splash page over https: the CSP upgrades insecure requests" "$csp" \
    ".*upgrade-insecure-requests; block-all-mixed-content"
  check "splash page over https: HSTS" "${hsts:-none}" 'max-age=[0-9]+.*'
else
  check_is "splash page over http: the CSP upgrades nothing" "$csp" \
    "default-src 'self'; object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
  check_is "splash page over http: no HSTS" "${hsts:-none}" none
fi
for asset in /styles.css /mcp-logo.png /favicon.svg; do
  grep -q "\"$asset\"" "$TMP/splash" || { check "the splash page links $asset" missing linked; continue; }
  check "splash page asset $asset" \
    "$(curl -s -o /dev/null -w '%{http_code}' "${X[@]}" "${BROWSER[@]}" "$BASE$asset")" 200
done

curl_timeouts
FAIL=$((FAIL + CURL_TIMEOUTS))
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
