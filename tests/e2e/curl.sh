# shellcheck shell=bash disable=SC2034 # the variables are read by the sourcing script
# Sourced by the curl scripts in tests/e2e: every request is bounded, and a request that hits its
# bound is remembered so that the script can report it as a failure of its own.
#   curl_bound <dir>     start: timeouts are noted in <dir>/curl-timeouts
#   curl …               the real curl with --max-time $CURL_MAX_TIME (default 30 s) in front, so a
#                        later -m of the caller's wins; exit 28 (time limit) is noted
#   curl_timeouts        print one "TIMEOUT curl <url>" line per noted request; CURL_TIMEOUTS = count
# A stream that is cut on purpose by its own -m must call `command curl`, which is not noted.

CURL_MAX_TIME=${CURL_MAX_TIME:-30}
CURL_TIMEOUT_LOG=/dev/null
CURL_TIMEOUTS=0

curl_bound() {
  CURL_TIMEOUT_LOG=$1/curl-timeouts
  : >"$CURL_TIMEOUT_LOG"
}

curl() {
  command curl --max-time "$CURL_MAX_TIME" "$@"
  local rc=$? a url=""
  if [ "$rc" -eq 28 ]; then
    # The URL without its query: queries may carry codes or state that must not reach a log.
    for a in "$@"; do
      case $a in
      http://* | https://*) url=${a%%\?*} ;;
      esac
    done
    echo "TIMEOUT curl ${url:-(no URL)}" >>"$CURL_TIMEOUT_LOG"
  fi
  return "$rc"
}

curl_timeouts() {
  CURL_TIMEOUTS=0
  [ -s "$CURL_TIMEOUT_LOG" ] || return 0
  cat "$CURL_TIMEOUT_LOG"
  CURL_TIMEOUTS=$(wc -l <"$CURL_TIMEOUT_LOG")
}
