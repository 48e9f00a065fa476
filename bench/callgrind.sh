#!/usr/bin/env bash
# Instructions per tools/call echo, with a session (2025-11-25) and without (2026-07-28), counted by
# valgrind's callgrind on the server: the stable figure on a shared machine, where req/s moves by
# tens of percent with the neighbours' load (docs/performance.md). Per mode: a fresh mcpd under
# callgrind, CALLS_WARM unmeasured calls, counters zeroed, CALLS measured calls over 8
# connections, counters dumped. The figure is the instructions of that window divided by the
# answers mcpbench counted (every one checked). Prints one line per mode; the callgrind files
# stay in build/bench/callgrind/ for callgrind_annotate. Bounded: each mcpbench run has its own
# hard timeout, the server is stopped at the end.
#
# usage: bench/callgrind.sh
#   MCPD_BIN=build/mcpd  CALLS=4000  CALLS_WARM=500
#   REDIS_URL=redis://127.0.0.1:<port>  the Redis store (flushed before each mode); unset: memory
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${MCPD_BIN:-build/mcpd}
CALLS=${CALLS:-4000}
CALLS_WARM=${CALLS_WARM:-500}
OUT=build/bench/callgrind
for tool in valgrind callgrind_control python3 curl; do
  command -v "$tool" >/dev/null || { echo "callgrind.sh: $tool is required" >&2; exit 2; }
done
[ -x "$BIN" ] || { echo "callgrind.sh: $BIN is missing (make first)" >&2; exit 2; }
make -s bench
mkdir -p "$OUT"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
STORE_ARGS=()
[ -z "${REDIS_URL:-}" ] || STORE_ARGS=(--redis-url "$REDIS_URL")
SERVER=
stop() { [ -z "$SERVER" ] || { kill -INT "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; }; SERVER=; }
trap stop EXIT

for mode in 2025-11-25 2026-07-28; do
  [ -z "${REDIS_URL:-}" ] || redis-cli -u "$REDIS_URL" FLUSHALL >/dev/null
  valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.$mode.%p" "$BIN" mcp --no-auth \
    --features reference --log-level warning --port "$PORT" "${STORE_ARGS[@]}" \
    2>"$OUT/valgrind.$mode.log" >/dev/null &
  SERVER=$!
  for _ in $(seq 120); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/health" && break; sleep 0.5; done
  run() { # run <calls> <json out>
    build/bench/mcpbench --url "http://127.0.0.1:$PORT/mcp" --mode call --connections 8 --warmup 0 \
      --duration 300 --requests "$1" --timeout 600 --protocol-version "$mode" >"$2"
  }
  run "$CALLS_WARM" /dev/null
  callgrind_control -z "$SERVER" >/dev/null
  run "$CALLS" "$OUT/mcpbench.$mode.json"
  callgrind_control -d "$SERVER" >/dev/null
  file="$OUT/callgrind.$mode.$SERVER.1"
  for _ in $(seq 20); do [ -s "$file" ] && break; sleep 0.5; done
  python3 - "$mode" "$file" "$OUT/mcpbench.$mode.json" <<'PY'
import json, sys
mode, cg, mb = sys.argv[1:]
d = json.load(open(mb))
ir = next(int(l.split()[1]) for l in open(cg) if l.startswith(("summary:", "totals:")))
print(f"{mode}: {d['requests']} calls, {d['errors']} errors, {ir} instructions, "
      f"{ir // max(d['requests'], 1)} per call ({cg})")
PY
  stop
done
