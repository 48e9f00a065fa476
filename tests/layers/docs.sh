#!/usr/bin/env bash
# Layer: the user documents stay true to the code. (1) The configuration reference in
# docs/operations.md (between its settings markers) equals `scripts/gen-help-docs.sh md` of
# `build/mcpd --help` (`make docs-settings` rewrites it). (2) Every route of both roles, read from
# the route tables in src/mcp/server.c, src/auth/server.c and src/web/web.c, is in
# docs/endpoints.md. (3) Every relative link in README.md, examples/README.md and docs/*.md names
# a file that exists. (4) README.md links the user documents. Each is one check per item. Prints
# "N passed, N failed" last.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=lib.sh
. tests/layers/lib.sh

BIN=${MCPD_BIN:-build/mcpd}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# (1) the settings table
if "$BIN" --help >"$TMP/help" 2>&1 && bash scripts/gen-help-docs.sh md "$TMP/help" >"$TMP/want"; then
  awk '/<!-- settings:end -->/ {on = 0} on {print} /<!-- settings:begin/ {on = 1}' docs/operations.md >"$TMP/have"
  if [ -s "$TMP/have" ] && diff -u "$TMP/want" "$TMP/have" >"$TMP/diff"; then
    ok "docs/operations.md: the settings table is $BIN --help's ($(($(wc -l <"$TMP/want") - 2)) settings)"
  else
    head -20 "$TMP/diff"
    fail "docs/operations.md: the settings table differs from $BIN --help (run make docs-settings)"
  fi
else
  fail "docs: $BIN --help and the md generator ran"
fi

# (2) routes: quoted paths in the route tables (METRICS_PATH and OAUTH_DENY_PATH by their values)
routes=$({
  sed -n '/^static const struct mcp_route routes\[\]/,/^};/p' src/mcp/server.c | grep -o '\.path = "[^"]*"' | cut -d'"' -f2
  sed -n '/^static const struct auth_route routes\[\]/,/^};/p' src/auth/server.c | grep -o '{"[^"]*"' | cut -d'"' -f2
  sed -n '/^static const struct web_route/,/^};/p' src/web/web.c | grep -o '{"[^"]*"' | cut -d'"' -f2
  grep -h -o '#define \(METRICS_PATH\|OAUTH_DENY_PATH\) *"[^"]*"' src/app/metrics.h src/auth/pages.h | cut -d'"' -f2
  echo /.well-known/oauth-protected-resource
} | sort -u)
n=0
for r in $routes; do
  n=$((n + 1))
  if grep -qF "\`$r\`" docs/endpoints.md || grep -qF "\`$r?" docs/endpoints.md; then
    ok "docs/endpoints.md lists $r"
  else
    fail "docs/endpoints.md does not list the route $r"
  fi
done
if [ "$n" -ge 18 ]; then ok "routes read from the route tables: $n"; else fail "only $n routes read from the route tables"; fi

# (3) relative links resolve
for doc in README.md examples/README.md docs/*.md; do
  dir=$(dirname "$doc")
  for link in $(grep -o '](\([^)#:]*\)\(#[^)]*\)\?)' "$doc" | sed 's/^](//; s/)$//; s/#.*//' | sort -u); do
    [ -n "$link" ] || continue
    if [ -e "$dir/$link" ]; then ok "$doc -> $link"; else fail "$doc links $link, which does not exist"; fi
  done
done

# (4) README links the user documents
for d in docs/endpoints.md docs/oauth.md docs/operations.md docs/troubleshooting.md examples/README.md; do
  if grep -qF "]($d" README.md; then ok "README.md links $d"; else fail "README.md does not link $d"; fi
done
finish
