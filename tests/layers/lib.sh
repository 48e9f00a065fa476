# shellcheck shell=bash disable=SC2034 # the variables are read by the sourcing script
# Sourced by every layer (tests/layers/*.sh) and by scripts/test.sh: one way to count checks and
# to bound whatever could hang. A layer prints one line per check and "N passed, N failed" last.
#   ok <what> / fail <what>        one check passed / failed ("ok   …" / "FAIL …")
#   timed_out <what>               a bound was hit: "TIMEOUT <what>", one failure
#   bounded <seconds> <cmd…>       run a command under timeout(1); 124: the bound was hit
#   read_counts <text>             COUNT_P / COUNT_F from the text's last "N passed, N failed" line
#   add_counts <label> <rc> <out>  fold a sub-script's output and counts into this layer
#   run_counted <label> <seconds> <cmd…>   bounded + add_counts, TIMEOUT when the bound was hit
#   layer_bins                     BINS: the mcpd builds a server layer runs against
#   finish                         the closing line; exits non-zero on a failure or when nothing ran
# The counters are plain shell variables of the sourcing script.

PASSED=0
FAILED=0
COUNT_P=0
COUNT_F=0
SUMMARY_RE='^[0-9]+ passed, [0-9]+ failed$'

ok() {
  echo "ok   $1"
  PASSED=$((PASSED + 1))
}

fail() {
  echo "FAIL $1"
  FAILED=$((FAILED + 1))
}

timed_out() {
  echo "TIMEOUT $1"
  FAILED=$((FAILED + 1))
}

# The command gets its own process group, so a hang is ended with everything it started; -k
# follows up with SIGKILL for a process that ignores SIGTERM. Returns 124 exactly when the bound
# was hit (timeout says 137 when it had to kill, as would any other SIGKILL).
bounded() {
  local secs=$1 start=$SECONDS rc
  shift
  timeout -k 10 "$secs" "$@"
  rc=$?
  if [ "$rc" -eq 137 ] && [ $((SECONDS - start)) -ge "$secs" ]; then rc=124; fi
  return "$rc"
}

read_counts() {
  local line
  line=$(printf '%s\n' "$1" | grep -E "$SUMMARY_RE" | tail -1)
  COUNT_P=0
  COUNT_F=0
  [ -n "$line" ] || return 1
  COUNT_P=${line%% passed*}
  COUNT_F=${line#*passed, }
  COUNT_F=${COUNT_F%% failed}
}

# The sub-script's own summary line is shown as "-- <label>: …" so that the layer's closing line
# stays the only one scripts/test.sh can read, even when the layer dies right after this.
# No summary, a non-zero exit without a failed check, or nothing run at all is one failure.
add_counts() {
  local label=$1 rc=$2 out=$3
  printf '%s\n' "$out" | grep -vE "$SUMMARY_RE"
  if ! read_counts "$out"; then
    fail "$label: no \"N passed, N failed\" line (exit $rc)"
    return
  fi
  echo "-- $label: $COUNT_P passed, $COUNT_F failed"
  PASSED=$((PASSED + COUNT_P))
  FAILED=$((FAILED + COUNT_F))
  if [ "$rc" -ne 0 ] && [ "$COUNT_F" -eq 0 ]; then
    fail "$label exited with status $rc"
  elif [ $((COUNT_P + COUNT_F)) -eq 0 ]; then
    fail "$label ran no checks"
  fi
}

run_counted() {
  local label=$1 secs=$2 out rc
  shift 2
  out=$(bounded "$secs" "$@" 2>&1)
  rc=$?
  if [ "$rc" -eq 124 ]; then
    printf '%s\n' "$out" | grep -vE "$SUMMARY_RE"
    timed_out "$label (no end after ${secs} s)"
    return
  fi
  add_counts "$label" "$rc" "$out"
}

# MCPD_BIN names one build (it wins); MCPD_BINS a space-separated list; by default the normal and
# the sanitizer build, so every layer that starts a server also runs it under ASan+UBSan.
layer_bins() {
  read -r -a BINS <<<"${MCPD_BIN:-${MCPD_BINS:-build/mcpd build-asan/mcpd}}"
}

finish() {
  if [ $((PASSED + FAILED)) -eq 0 ]; then
    fail "this layer ran no checks"
  fi
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
  exit
}
