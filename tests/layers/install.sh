#!/usr/bin/env bash
# Layer: packaging. `make install DESTDIR=<tmp> PREFIX=/usr` puts exactly the binary, the man page,
# the systemd unit and the example settings where they belong, with their modes; the installed
# binary runs; the man page renders without a warning and lists every flag and variable of
# --help; the unit passes `systemd-analyze verify` (a second install with a real prefix, so that
# its ExecStart and Documentation point at files that exist) and scores OK in `systemd-analyze
# security`; the committed .env.example is what the generator makes of --help, and works as a
# .env; the generator refuses a help it does not understand; `make uninstall` removes it all.
# Prints "N passed, N failed" last.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=lib.sh
. tests/layers/lib.sh
# shellcheck source=../e2e/server.sh
. tests/e2e/server.sh

LOGDIR=build/test-logs/install
MAKE_TIMEOUT=${INSTALL_MAKE_TIMEOUT_S:-600} # `make install` may have to build mcpd first
TOOL_TIMEOUT=60                             # man, groff, systemd-analyze, one mcpd --help
mkdir -p "$LOGDIR"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mcpd-install-test.XXXXXX") || {
  fail "mktemp"
  finish
}
trap 'mcpd_kill; rm -rf "$WORK"' EXIT

STAGE=$WORK/stage  # DESTDIR of the /usr install
PREFIX2=$WORK/prefix # PREFIX of the second install, without DESTDIR: paths that exist
VERSION_WANT=$(cat VERSION)
# where (under DESTDIR), mode, what
EXPECTED=(
  "usr/bin/mcpd 755 binary"
  "usr/share/man/man1/mcpd.1 644 man page"
  "usr/lib/systemd/system/mcpd.service 644 systemd unit"
  "usr/share/doc/mcpd/mcpd.env.example 644 example settings"
)

installed_files() { # installed_files <root>: every file under it, relative, sorted
  (cd "$1" 2>/dev/null && find . -type f -o -type l | sed 's|^\./||' | sort)
}

# ---- make install DESTDIR=<tmp> PREFIX=/usr ----
if bounded "$MAKE_TIMEOUT" make -s install DESTDIR="$STAGE" PREFIX=/usr >"$LOGDIR/make-install.log" 2>&1; then
  ok "make install DESTDIR=<tmp> PREFIX=/usr"
else
  tail -20 "$LOGDIR/make-install.log"
  fail "make install DESTDIR=<tmp> PREFIX=/usr (log $LOGDIR/make-install.log)"
fi
want_list=""
for e in "${EXPECTED[@]}"; do
  read -r path mode what <<<"$e"
  want_list+="$path"$'\n'
  if [ ! -f "$STAGE/$path" ]; then
    fail "installed $what: /$path is missing"
  elif [ "$(stat -c %a "$STAGE/$path")" != "$mode" ]; then
    fail "installed $what: /$path has mode $(stat -c %a "$STAGE/$path"), want $mode"
  else
    ok "installed $what: /$path, mode $mode"
  fi
done
got_list=$(installed_files "$STAGE")
if [ "$got_list" = "$(printf '%s' "$want_list" | sort)" ]; then
  ok "make install installs those ${#EXPECTED[@]} files and nothing else"
else
  fail "make install installs exactly the expected files; it installed:"
  printf '  %s\n' "$got_list"
fi
dry=$(make -s -n install DESTDIR=/stage 2>&1)
if grep -q '/stage/usr/local/bin/mcpd' <<<"$dry" && grep -q '/stage/usr/local/lib/systemd/system/mcpd.service' <<<"$dry"; then
  ok "PREFIX defaults to /usr/local (make -n install)"
else
  fail "PREFIX defaults to /usr/local (make -n install): $(head -5 <<<"$dry")"
fi

# ---- the installed binary ----
BIN=$STAGE/usr/bin/mcpd
got=$(bounded "$TOOL_TIMEOUT" "$BIN" --version 2>&1)
if [ "$got" = "mcpd $VERSION_WANT" ]; then
  ok "installed mcpd --version: $got"
else
  fail "installed mcpd --version: '$got', want 'mcpd $VERSION_WANT'"
fi
bounded "$TOOL_TIMEOUT" "$BIN" --help >"$WORK/help.txt" 2>&1
rc=$?
if [ "$rc" -eq 0 ] && head -1 "$WORK/help.txt" | grep -q '^Usage: mcpd \[mcp|auth|all\]'; then
  ok "installed mcpd --help (exit 0, usage line)"
else
  fail "installed mcpd --help: exit $rc, first line '$(head -1 "$WORK/help.txt")'"
fi
# Every flag and every variable of --help, from its option lines ("  --flag …", "  NAME=<…> …")
# and variable lines ("env NAME; …", "env NAME=value; …").
mapfile -t FLAGS < <(grep -oE '^  (-[A-Za-z], )?--[a-z0-9-]+' "$WORK/help.txt" | grep -oE -- '--[a-z0-9-]+$')
mapfile -t FLAGLESS < <(grep -oE '^  [A-Z][A-Z0-9_]*=<' "$WORK/help.txt" | tr -d ' =<')
mapfile -t VARS < <({
  printf '%s\n' "${FLAGLESS[@]}"
  grep -oE '^ +env [A-Z][A-Z0-9_]*' "$WORK/help.txt" | awk '{print $2}'
} | sort -u)
if [ "${#FLAGS[@]}" -ge 10 ] && [ "${#VARS[@]}" -ge 10 ]; then
  ok "--help names ${#FLAGS[@]} flags and ${#VARS[@]} variables"
else
  fail "--help names only ${#FLAGS[@]} flags and ${#VARS[@]} variables (the layer's patterns no longer match it)"
fi

# ---- the man page ----
MANPAGE=$STAGE/usr/share/man/man1/mcpd.1
warn=$(bounded "$TOOL_TIMEOUT" groff -man -ww -z "$MANPAGE" 2>&1)
rc=$?
if [ "$rc" -eq 0 ] && [ -z "$warn" ]; then
  ok "man page: groff -man -ww -z gives no warning"
else
  fail "man page: groff -man -ww -z (exit $rc): $(head -5 <<<"$warn")"
fi
# man -l renders as a user sees it; without a terminal it strips the overstrikes (col -b).
LC_ALL=C MANWIDTH=200 bounded "$TOOL_TIMEOUT" man --warnings -l "$MANPAGE" >"$WORK/man.txt" 2>"$WORK/man.err"
rc=$?
if [ "$rc" -eq 0 ] && [ ! -s "$WORK/man.err" ] && [ -s "$WORK/man.txt" ]; then
  ok "man page: man --warnings -l renders it with no warning"
else
  fail "man page: man --warnings -l (exit $rc): $(head -5 "$WORK/man.err")"
fi
missing=()
for s in NAME SYNOPSIS DESCRIPTION OPTIONS ENVIRONMENT FILES SIGNALS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
  grep -qx "$s" "$WORK/man.txt" || missing+=("$s")
done
if [ "${#missing[@]}" -eq 0 ]; then
  ok "man page: all 10 sections, NAME to SEE ALSO"
else
  fail "man page: sections missing: ${missing[*]}"
fi
if grep -q "^MCPD(1) .*User Commands" "$WORK/man.txt" && grep -q "mcpd $VERSION_WANT" "$WORK/man.txt"; then
  ok "man page: title line and version $VERSION_WANT"
else
  fail "man page: title line 'MCPD(1) … User Commands' and 'mcpd $VERSION_WANT' in the footer"
fi
# section <name>: the rendered text of one section, to the next heading
section() { awk -v s="$1" '/^[A-Z]/ { on = ($0 == s); next } on' "$WORK/man.txt"; }
section OPTIONS >"$WORK/man-options.txt"
section ENVIRONMENT >"$WORK/man-environment.txt"
missing=()
for f in "${FLAGS[@]}"; do
  grep -qE -- "^ +(-[A-Za-z], )?$f( |$)" "$WORK/man-options.txt" || missing+=("$f")
done
for v in "${FLAGLESS[@]}"; do # the secrets have no flag: they are options of their own
  grep -qE "^ +$v=" "$WORK/man-options.txt" || missing+=("$v=")
done
if [ "${#FLAGS[@]}" -gt 0 ] && [ "${#missing[@]}" -eq 0 ]; then
  ok "man page: OPTIONS lists all ${#FLAGS[@]} flags of --help and its flagless settings"
else
  fail "man page: OPTIONS lacks ${missing[*]:-every flag}"
fi
missing=()
for v in "${VARS[@]}"; do
  grep -qE "^ +$v( |$)" "$WORK/man-environment.txt" || missing+=("$v")
done
if [ "${#VARS[@]}" -gt 0 ] && [ "${#missing[@]}" -eq 0 ]; then
  ok "man page: ENVIRONMENT lists all ${#VARS[@]} variables of --help"
else
  fail "man page: ENVIRONMENT lacks ${missing[*]:-every variable}"
fi
if grep -q 'SHUTDOWN_GRACE_MS' <(section SIGNALS) && grep -q 'status 1' <(section SIGNALS); then
  ok "man page: SIGNALS gives the grace period and the second signal's exit"
else
  fail "man page: SIGNALS names SHUTDOWN_GRACE_MS and the second signal's status 1"
fi

# ---- the systemd unit ----
UNIT=$STAGE/usr/lib/systemd/system/mcpd.service
exec_start=$(grep '^ExecStart=' "$UNIT")
if [ "$exec_start" = "ExecStart=/usr/bin/mcpd \$MCPD_ROLE" ] && ! grep -q '@[A-Z]*@' "$UNIT"; then
  ok "unit: ExecStart is the installed binary (/usr/bin/mcpd), no placeholder left"
else
  fail "unit: ExecStart '$exec_start' (want /usr/bin/mcpd \$MCPD_ROLE), or a @…@ placeholder left"
fi
missing=()
for d in DynamicUser=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes PrivateDevices=yes \
  NoNewPrivileges=yes ProtectKernelTunables=yes ProtectKernelModules=yes ProtectKernelLogs=yes \
  ProtectControlGroups=yes 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' RestrictNamespaces=yes \
  LockPersonality=yes MemoryDenyWriteExecute=yes RestrictRealtime=yes RestrictSUIDSGID=yes \
  SystemCallArchitectures=native SystemCallFilter=@system-service CapabilityBoundingSet= \
  EnvironmentFile=-/etc/mcpd/mcpd.env Restart=on-failure KillSignal=SIGTERM; do
  grep -qxF "$d" "$UNIT" || missing+=("$d")
done
if [ "${#missing[@]}" -eq 0 ]; then
  ok "unit: every hardening and restart directive of the brief is set"
else
  fail "unit: missing ${missing[*]}"
fi
# The stop timeout must outlast the default grace plus the 1 s drop, or systemd's SIGKILL would cut
# the calls that the grace lets finish.
grace_ms=$(grep -A1 -e '--shutdown-grace-ms' "$WORK/help.txt" | grep -oE 'default: [0-9]+' | grep -oE '[0-9]+')
stop_s=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s*$/\1/p' "$UNIT")
nofile=$(sed -n 's/^LimitNOFILE=\([0-9]*\)$/\1/p' "$UNIT")
max_conn=$(grep -A1 -e '--max-connections ' "$WORK/help.txt" | grep -oE 'default: [0-9]+' | grep -oE '[0-9]+')
if [ -n "$grace_ms" ] && [ -n "$stop_s" ] && [ $((stop_s * 1000)) -ge $((grace_ms + 1000 + 10000)) ]; then
  ok "unit: TimeoutStopSec=${stop_s}s outlasts the shutdown grace (${grace_ms} ms) + 1 s by 10 s or more"
else
  fail "unit: TimeoutStopSec '${stop_s:-unset}' s against a grace of '${grace_ms:-?}' ms"
fi
if [ -n "$nofile" ] && [ -n "$max_conn" ] && [ "$nofile" -gt "$max_conn" ]; then
  ok "unit: LimitNOFILE=$nofile above MAX_CONNECTIONS' default ($max_conn)"
else
  fail "unit: LimitNOFILE '${nofile:-unset}' against MAX_CONNECTIONS' default '${max_conn:-?}'"
fi

# verify checks that ExecStart's binary and the Documentation= man page exist, so it runs on a
# second install whose prefix is real, not staged: the unit there is the generated file as is.
if ! command -v systemd-analyze >/dev/null 2>&1; then
  fail "systemd-analyze is not installed (scripts/deps.sh installs the package systemd)"
elif ! bounded "$MAKE_TIMEOUT" make -s install PREFIX="$PREFIX2" >"$LOGDIR/make-install-prefix.log" 2>&1; then
  tail -20 "$LOGDIR/make-install-prefix.log"
  fail "make install PREFIX=<tmp> (log $LOGDIR/make-install-prefix.log)"
else
  UNIT2=$PREFIX2/lib/systemd/system/mcpd.service
  if [ "$(grep '^ExecStart=' "$UNIT2")" = "ExecStart=$PREFIX2/bin/mcpd \$MCPD_ROLE" ]; then
    ok "unit of make install PREFIX=<tmp>: ExecStart follows PREFIX"
  else
    fail "unit of make install PREFIX=<tmp>: ExecStart '$(grep '^ExecStart=' "$UNIT2")'"
  fi
  out=$(MANPATH=$PREFIX2/share/man bounded "$TOOL_TIMEOUT" systemd-analyze verify "$UNIT2" 2>&1)
  rc=$?
  if [ "$rc" -eq 0 ] && [ -z "$out" ]; then
    ok "unit: systemd-analyze verify, no message"
  else
    fail "unit: systemd-analyze verify (exit $rc): $(head -5 <<<"$out")"
  fi
  bounded "$TOOL_TIMEOUT" systemd-analyze security --offline=true "$UNIT2" >"$LOGDIR/security.txt" 2>&1
  exposure=$(sed -n 's/.*Overall exposure level for mcpd.service: \([0-9.]*\) .*/\1/p' "$LOGDIR/security.txt")
  if [ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }'; then
    ok "unit: systemd-analyze security exposure $exposure (at most 2.0)"
  else
    fail "unit: systemd-analyze security exposure '${exposure:-none}', want at most 2.0 ($LOGDIR/security.txt)"
  fi
  if bounded "$MAKE_TIMEOUT" make -s uninstall PREFIX="$PREFIX2" >>"$LOGDIR/make-install-prefix.log" 2>&1 &&
    [ -z "$(installed_files "$PREFIX2")" ]; then
    ok "make uninstall PREFIX=<tmp> leaves no file"
  else
    fail "make uninstall PREFIX=<tmp> leaves: $(installed_files "$PREFIX2" | head -5 | tr '\n' ' ')"
  fi
fi

# ---- .env.example ----
if bash scripts/gen-help-docs.sh env "$WORK/help.txt" >"$WORK/env.example" 2>"$WORK/gen.err" &&
  cmp -s "$WORK/env.example" .env.example; then
  ok ".env.example is what scripts/gen-help-docs.sh makes of mcpd --help"
else
  diff -u .env.example "$WORK/env.example" | head -20
  cat "$WORK/gen.err"
  fail ".env.example differs from the generator's output (run make env-example)"
fi
if cmp -s .env.example "$STAGE/usr/share/doc/mcpd/mcpd.env.example"; then
  ok "installed mcpd.env.example is the committed .env.example"
else
  fail "installed mcpd.env.example differs from .env.example"
fi
n_env=$(grep -cE '^# [A-Z][A-Z0-9_]*=' .env.example)
n_missing=0
for v in "${VARS[@]}"; do grep -qE "^# $v=" .env.example || n_missing=$((n_missing + 1)); done
if [ "${#VARS[@]}" -gt 0 ] && [ "$n_missing" -eq 0 ]; then
  ok ".env.example has a commented line for each of the ${#VARS[@]} variables ($n_env lines NAME=…)"
else
  fail ".env.example lacks $n_missing of the ${#VARS[@]} variables"
fi
# Every line uncommented, the file is a valid ./.env: the defaults written out are values mcpd
# accepts. Ports come from the command line (flags win), so it never takes 3232 or 3001.
mkdir -p "$WORK/run"
sed -E 's/^# ([A-Z][A-Z0-9_]*=)/\1/' .env.example >"$WORK/run/.env"
here=$PWD # mcpd_start sets MCPD_PID in this shell, so the cd is not in a subshell
cd "$WORK/run" || exit 1
if mcpd_start "$BIN" "$here/$LOGDIR/mcpd-env-example.log"; then
  cd "$here" || exit 1
  health=$(command curl -s -m 10 "${MCPD_URL%/mcp}/health")
  if mcpd_stop && grep -q '"status"' <<<"$health"; then
    ok "the example, every line uncommented as ./.env: mcpd starts, answers /health, stops with 0"
  else
    fail "the example as ./.env: /health '$health', or no clean stop ($LOGDIR/mcpd-env-example.log)"
  fi
else
  cd "$here" || exit 1
  fail "the example as ./.env: mcpd did not start ($LOGDIR/mcpd-env-example.log)"
fi

# The drift guard can fail: a help line the parser does not know stops the generator.
sed '/^  --port /i\  +weird line' "$WORK/help.txt" >"$WORK/help-bad.txt"
if ! grep -q '+weird' "$WORK/help-bad.txt"; then
  fail "the generator test could not make its bad help"
elif bash scripts/gen-help-docs.sh env "$WORK/help-bad.txt" >/dev/null 2>"$WORK/gen-bad.err"; then
  fail "scripts/gen-help-docs.sh accepts a help line it does not know"
elif grep -q 'help line' "$WORK/gen-bad.err"; then
  ok "scripts/gen-help-docs.sh refuses a help line it does not know ($(head -1 "$WORK/gen-bad.err" | cut -c1-60)…)"
else
  fail "scripts/gen-help-docs.sh failed on a bad help without naming the line: $(head -1 "$WORK/gen-bad.err")"
fi

# ---- make uninstall ----
if bounded "$MAKE_TIMEOUT" make -s uninstall DESTDIR="$STAGE" PREFIX=/usr >"$LOGDIR/make-uninstall.log" 2>&1 &&
  [ -z "$(installed_files "$STAGE")" ]; then
  ok "make uninstall DESTDIR=<tmp> PREFIX=/usr removes every installed file"
else
  fail "make uninstall DESTDIR=<tmp> PREFIX=/usr leaves: $(installed_files "$STAGE" | head -5 | tr '\n' ' ')"
fi
finish
