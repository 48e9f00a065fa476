#!/usr/bin/env bash
# rawcheck.sh <mcp-url> <protocol-version> [extra curl args, e.g. -H "Authorization: Bearer $T"]
# The raw Streamable HTTP checks of shared/spec/conformance.md §5, with asserted status codes:
# what no SDK client exercises on purpose (bad headers, foreign Origin/Host, dead sessions,
# 2025-03-26 batches). One line per check ("ok ..." / "FAIL ..."), then "N passed, N failed".
set -uo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 <mcp-url> <protocol-version> [curl args...]" >&2
  exit 2
fi
U=$1
PV=$2
shift 2
X=("$@")

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
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

H=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' "${X[@]}")
INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"'$PV'","capabilities":{},"clientInfo":{"name":"rawcheck","version":"0"}}}'
PING='{"jsonrpc":"2.0","id":2,"method":"ping"}'

# post <curl args...>: POST to U, print the status code (000 when the connection failed).
post() {
  curl -s -o "$TMP/body" -w '%{http_code}' "$@" -X POST "$U"
}

code=$(curl -s -D "$TMP/hdr" -o "$TMP/body" -w '%{http_code}' "${H[@]}" -X POST "$U" -d "$INIT")
check "initialize" "$code" 200
SID=$(grep -i '^mcp-session-id:' "$TMP/hdr" | head -1 | cut -d: -f2- | tr -d ' \r')
check "initialize sets Mcp-Session-Id" "$SID" '[!-~]+'
NEG=$(grep -o '"protocolVersion":"[^"]*"' "$TMP/body" 2>/dev/null | head -1 | cut -d'"' -f4)
check "initialize echoes protocolVersion" "${NEG:-none}" "$PV"
S=(-H "Mcp-Session-Id: $SID" -H "MCP-Protocol-Version: $PV")

check "notifications/initialized" "$(post "${H[@]}" "${S[@]}" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}')" 202
check "ping" "$(post "${H[@]}" "${S[@]}" -d "$PING")" 200
check "bad MCP-Protocol-Version" \
  "$(post "${H[@]}" -H "Mcp-Session-Id: $SID" -H 'MCP-Protocol-Version: 1999-01-01' -d "$PING")" 400
check "request without session" "$(post "${H[@]}" -d "$PING")" 400
check "Accept without text/event-stream" \
  "$(post -H 'Content-Type: application/json' -H 'Accept: application/json' "${X[@]}" "${S[@]}" -d "$PING")" 406

# The standalone GET stream stays open: -m 2 cuts it, and the headers tell what was sent.
curl -s -m 2 -D "$TMP/ghdr" -o /dev/null -H 'Accept: text/event-stream' "${X[@]}" "${S[@]}" "$U"
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

check "foreign Origin" "$(post "${H[@]}" -H 'Origin: http://evil.example.com' -d "$INIT")" 403
check "foreign Host" "$(post "${H[@]}" -H 'Host: evil.example.com' -d "$INIT")" '4[0-9][0-9]'
check "DELETE session" "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "${X[@]}" "${S[@]}" "$U")" '200|204'
check "deleted session" "$(post "${H[@]}" "${S[@]}" -d "$PING")" 404
check "unknown session" \
  "$(post "${H[@]}" -H 'Mcp-Session-Id: nope' -H "MCP-Protocol-Version: $PV" -d "$PING")" 404

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
