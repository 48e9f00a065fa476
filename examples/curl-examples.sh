#!/usr/bin/env bash
# The MCP wire protocol by hand, with curl and jq, against mcpd (by default `make run`'s servers).
#
#   bash examples/curl-examples.sh [MCP URL]       (default http://localhost:3232/mcp)
#
# When the server asks for authorization (401, as `make run`'s `mcpd all` does) it first logs in
# the way an OAuth client does, step by step: the protected-resource metadata named in the 401,
# the authorization server's metadata, dynamic client registration, PKCE, /authorize (the consent
# page), the mock identity provider, /token. Then: initialize, the session id, tools/list,
# tools/call (one JSON answer, one SSE stream with progress notifications), DELETE of the session.
# Environment: MCP_URL (the same as the argument), USER_ID (default "demo user"). Needs bash,
# curl, jq, openssl. Every step prints what it got; the script stops at the first failure.
set -euo pipefail

MCP_URL=${1:-${MCP_URL:-http://localhost:3232/mcp}}
USER_ID=${USER_ID:-demo user}
REDIRECT_URI=http://127.0.0.1:53682/callback # nothing listens: we read the redirect's Location
PV=2025-06-18                                 # the protocol revision this script speaks
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
AUTH=() # curl arguments carrying the bearer token, once we have one

step() { printf '\n== %s\n' "$*"; }
die() {
  echo "error: $*" >&2
  exit 1
}

# header <file> <name>: one response header's value from a `curl -D` dump (case-insensitive).
header() {
  tr -d '\r' <"$1" | awk -v n="$(printf %s "$2" | tr '[:upper:]' '[:lower:]')" \
    'BEGIN{FS=": "} tolower($1)==n {sub(/^[^:]*: /, ""); print; exit}'
}

# rpc <json> [extra curl args…]: POST one JSON-RPC message to /mcp; the status goes to $TMP/status,
# the headers to $TMP/headers, the answer (the JSON body, or every `data:` line of an SSE body,
# one JSON message a line) to stdout.
rpc() {
  local body=$1
  shift
  curl -sS -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' -X POST "$MCP_URL" \
    -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
    ${AUTH[@]+"${AUTH[@]}"} "$@" --data "$body" >"$TMP/status"
  case $(header "$TMP/headers" content-type) in
  text/event-stream*) sed -n 's/^data: *//p' "$TMP/body" | grep -v '^$' || true ;;
  *) cat "$TMP/body" ;;
  esac
}

status() { cat "$TMP/status"; }

# ---- 0. is authorization required? ----
step "POST $MCP_URL without a token"
rpc '{"jsonrpc":"2.0","id":0,"method":"ping"}' -H "MCP-Protocol-Version: $PV" >/dev/null
echo "status $(status)"

if [ "$(status)" = 401 ]; then
  # ---- 1. discovery: the 401 names the protected-resource metadata (RFC 9728) ----
  challenge=$(header "$TMP/headers" www-authenticate)
  echo "WWW-Authenticate: $challenge"
  prm=$(printf %s "$challenge" | sed -n 's/.*resource_metadata="\([^"]*\)".*/\1/p')
  [ -n "$prm" ] || die "no resource_metadata in the 401"
  step "protected-resource metadata: $prm"
  curl -sS "$prm" | tee "$TMP/prm" | jq .
  RESOURCE=$(jq -r .resource "$TMP/prm")
  AS=$(jq -r '.authorization_servers[0]' "$TMP/prm")
  step "authorization server metadata: ${AS%/}/.well-known/oauth-authorization-server"
  curl -sS "${AS%/}/.well-known/oauth-authorization-server" | tee "$TMP/asm" |
    jq '{issuer, authorization_endpoint, token_endpoint, registration_endpoint}'
  AUTHORIZE=$(jq -r .authorization_endpoint "$TMP/asm")
  TOKEN=$(jq -r .token_endpoint "$TMP/asm")
  REGISTER=$(jq -r .registration_endpoint "$TMP/asm")

  # ---- 2. dynamic client registration (RFC 7591) ----
  step "register a client: POST $REGISTER"
  jq -n --arg r "$REDIRECT_URI" '{client_name: "curl example", redirect_uris: [$r],
      grant_types: ["authorization_code", "refresh_token"], token_endpoint_auth_method: "none"}' |
    curl -sS -X POST "$REGISTER" -H 'Content-Type: application/json' --data @- | tee "$TMP/client" |
    jq '{client_id, client_name, redirect_uris}'
  CLIENT_ID=$(jq -r .client_id "$TMP/client")

  # ---- 3. PKCE S256 (RFC 7636): a random verifier and its SHA-256, base64url ----
  VERIFIER=$(openssl rand -base64 48 | tr -d '\n=' | tr '+/' '-_')
  CHALLENGE=$(printf %s "$VERIFIER" | openssl dgst -binary -sha256 | openssl base64 -A | tr -d '=' | tr '+/' '-_')
  STATE=$(openssl rand -hex 16)
  step "PKCE: code_challenge $CHALLENGE"

  # ---- 4. /authorize answers the consent page; its Allow link leads to the identity provider ----
  step "GET $AUTHORIZE (the consent page a browser would show)"
  curl -sS -G "$AUTHORIZE" --data-urlencode response_type=code --data-urlencode "client_id=$CLIENT_ID" \
    --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "code_challenge=$CHALLENGE" \
    --data-urlencode code_challenge_method=S256 --data-urlencode "state=$STATE" \
    --data-urlencode "resource=$RESOURCE" --data-urlencode scope=mcp >"$TMP/consent"
  sed -n 's/.*<title>\([^<]*\)<\/title>.*/title: \1/p' "$TMP/consent"
  # The Allow link: /mock-upstream-idp/authorize?redirect_uri=…&state=<pending authorization>
  PENDING=$(grep -o 'state=[0-9a-f]*' "$TMP/consent" | head -1 | cut -d= -f2)
  [ -n "$PENDING" ] || die "no Allow link on the consent page"
  echo "Allow link carries the pending authorization ${PENDING:0:8}…"

  # ---- 5. the mock identity provider: the user signs in as USER_ID and is sent back ----
  step "mock identity provider: sign in as \"$USER_ID\""
  curl -sS -o /dev/null -D "$TMP/idp" -G "${AS%/}/mock-upstream-idp/callback" \
    --data-urlencode "state=$PENDING" --data-urlencode code=mock-auth-code --data-urlencode "userId=$USER_ID"
  LOCATION=$(header "$TMP/idp" location)
  echo "redirected to ${LOCATION%%\?*}?code=…&state=…"
  CODE=$(printf %s "$LOCATION" | sed -n 's/.*[?&]code=\([^&]*\).*/\1/p')
  [ "$(printf %s "$LOCATION" | sed -n 's/.*[?&]state=\([^&]*\).*/\1/p')" = "$STATE" ] || die "state mismatch"

  # ---- 6. /token: the code and the PKCE verifier for an access token ----
  step "POST $TOKEN (authorization_code)"
  curl -sS -X POST "$TOKEN" --data-urlencode grant_type=authorization_code \
    --data-urlencode "client_id=$CLIENT_ID" --data-urlencode "code=$CODE" \
    --data-urlencode "redirect_uri=$REDIRECT_URI" --data-urlencode "code_verifier=$VERIFIER" \
    --data-urlencode "resource=$RESOURCE" | tee "$TMP/tokens" | jq '{token_type, expires_in, scope}'
  ACCESS=$(jq -r .access_token "$TMP/tokens")
  [ "$ACCESS" != null ] || die "no access token"
  AUTH=(-H "Authorization: Bearer $ACCESS")
fi

# ---- 7. initialize: the answer's Mcp-Session-Id header names the session ----
step "initialize"
rpc '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"'$PV'",
  "capabilities":{},"clientInfo":{"name":"curl-example","version":"1.0.0"}}}' |
  jq -c '.result | {protocolVersion, serverInfo}'
[ "$(status)" = 200 ] || die "initialize answered $(status)"
SID=$(header "$TMP/headers" mcp-session-id)
echo "Mcp-Session-Id: $SID"
SESSION=(-H "Mcp-Session-Id: $SID" -H "MCP-Protocol-Version: $PV")

step "notifications/initialized (a notification: 202, no body)"
rpc '{"jsonrpc":"2.0","method":"notifications/initialized"}' "${SESSION[@]}" >/dev/null
echo "status $(status)"

# ---- 8. tools/list and tools/call ----
step "tools/list"
rpc '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' "${SESSION[@]}" | jq -r '.result.tools[].name'

step "tools/call echo"
rpc '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello from curl"}}}' \
  "${SESSION[@]}" | jq -r '.result.content[0].text'

# A call that sends progress first is answered as an SSE stream: one `data:` line per message,
# the notifications before the result.
step "tools/call longRunningOperation with a progress token (an SSE stream)"
rpc '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"longRunningOperation",
  "arguments":{"duration":1,"steps":2},"_meta":{"progressToken":"p1"}}}' "${SESSION[@]}" >"$TMP/stream"
echo "Content-Type: $(header "$TMP/headers" content-type)"
jq -r 'if .method then "\(.method) \(.params.progress)/\(.params.total)" else "result: \(.result.content[0].text)" end' "$TMP/stream"

# ---- 9. DELETE ends the session; it is gone afterwards (404) ----
step "DELETE the session"
curl -sS -o /dev/null -w 'status %{http_code}\n' -X DELETE "$MCP_URL" ${AUTH[@]+"${AUTH[@]}"} "${SESSION[@]}"
rpc '{"jsonrpc":"2.0","id":5,"method":"ping"}' "${SESSION[@]}" >/dev/null
echo "a ping on the deleted session: status $(status)"
step "done"
