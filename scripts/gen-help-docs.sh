#!/usr/bin/env bash
# Turns `mcpd --help` into the documents that list the settings, so that they come from the same
# table as --help (src/app/config.c) and cannot drift from it:
#   gen-help-docs.sh man <template> <version> <help file>   the man page: the template with its
#       marker lines ".\" @ROLES@", ".\" @OPTIONS@" and ".\" @ENVIRONMENT@" replaced and
#       @VERSION@ substituted (Makefile: build/mcpd.1 from packaging/mcpd.1.in)
#   gen-help-docs.sh env <help file>                        the example environment file
#       (.env.example at the repository root; `make env-example` rewrites it)
#   gen-help-docs.sh md <help file>                         the settings table of
#       docs/operations.md (between its "settings:" markers; `make docs-settings` rewrites it)
# The help file is the output of `mcpd --help` ("-" for standard input). A line of the options
# section that the parser does not understand stops it with status 1 rather than being dropped,
# so a change of the help's layout shows up at build time instead of as a missing setting.
set -uo pipefail

usage() {
  echo "usage: $0 man <template> <version> <help file> | env <help file> | md <help file>" >&2
  exit 2
}

# The parser, shared by both outputs. It reads the help and calls emit_role(word, text) for each
# role and emit_option(flag, meta, env, envval, dflt, help) for each option; the flag is "" for a
# setting without one (environment only), meta is the value's name without <>, envval is the
# fixed value of a variable that switches something on (AUTH_MODE=none), dflt is the default as
# --help words it. -h and -V are options with neither variable nor default.
# shellcheck disable=SC2016 # an awk program: its $ fields are awk's
PARSER='
function die(msg) { printf "gen-help-docs: help line %d: %s: %s\n", NR, msg, $0 > "/dev/stderr"; failed = 1; exit 1 }
function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }
function expect_no_pending() { if (pending != "") die("the option above has no variable line") }
/^Roles:$/ { section = "roles"; next }
/^Options\./ { section = "options"; next }
section == "roles" && /^  [a-z]+ / {
  word = $1; desc = $0; sub(/^  [a-z]+ +/, "", desc); emit_role(word, desc); nroles++; next
}
section == "options" && /^  [-A-Z]/ {
  expect_no_pending()
  line = $0; sub(/^  /, "", line)
  p_flag = ""; p_meta = ""; p_env = ""; p_envval = ""; p_dflt = ""; p_help = ""
  if (line ~ /^-[A-Za-z], --[a-z-]+ /) {            # -h, --help  print this help and exit
    p_flag = substr(line, 1, index(line, " ") - 1) " "
    line = substr(line, index(line, " ") + 1)
    p_flag = p_flag substr(line, 1, index(line, " ") - 1)
    line = substr(line, index(line, " ") + 1)
    p_help = trim(line)
    emit_option(p_flag, "", "", "", "", p_help); nopts++
    next
  }
  if (line ~ /^--[a-z0-9-]+ /) {
    p_flag = substr(line, 1, index(line, " ") - 1)
    line = trim(substr(line, index(line, " ") + 1))
    if (line ~ /^<[^>]+> /) {
      p_meta = substr(line, 2, index(line, ">") - 2)
      line = substr(line, index(line, ">") + 1)
    }
  } else if (line ~ /^[A-Z][A-Z0-9_]*=<[^>]+> /) {    # REDIS_PASSWORD=<secret>  (no flag)
    p_env = substr(line, 1, index(line, "=") - 1)
    line = substr(line, index(line, "=") + 1)
    p_meta = substr(line, 2, index(line, ">") - 2)
    line = substr(line, index(line, ">") + 1)
  } else {
    die("an option line that is neither --flag nor VARIABLE=<value>")
  }
  p_help = trim(line)
  if (p_help == "") die("an option without help text")
  pending = p_flag p_env
  next
}
section == "options" && /^   +(env |no flag; )/ {
  if (pending == "") die("a variable line without its option above it")
  line = trim($0)
  if (line ~ /^no flag; default: /) {
    if (p_env == "") die("\"no flag\" for an option that has a flag")
    sub(/^no flag; default: /, "", line); p_dflt = line
  } else {
    sub(/^env /, "", line)
    semi = index(line, "; default: ")
    if (semi == 0) die("a variable line without \"; default: \"")
    name = substr(line, 1, semi - 1); p_dflt = substr(line, semi + 11)
    if (index(name, "=") > 0) { p_envval = substr(name, index(name, "=") + 1); name = substr(name, 1, index(name, "=") - 1) }
    if (name !~ /^[A-Z][A-Z0-9_]*$/) die("a variable name that is not UPPER_CASE")
    p_env = name
  }
  if (p_dflt == "") die("an empty default")
  emit_option(p_flag, p_meta, p_env, p_envval, p_dflt, p_help); nopts++; nsettings++
  pending = ""
  next
}
section == "options" && nopts == 0 && /^[^ ]/ { next }   # the rest of the "Options." sentence
section == "options" && NF > 0 { die("a line the parser does not know") }
END {
  if (failed) exit 1
  expect_no_pending()
  if (nroles == 0 || nsettings == 0) { printf "gen-help-docs: no roles or no settings in the help\n" > "/dev/stderr"; exit 1 }
  finish()
}
'

# troff: a backslash is \e, a hyphen in a flag or variable is a minus (\-) so that it can be
# searched and copied, and a line must not start with a control character.
# shellcheck disable=SC2016 # an awk program: its $ fields are awk's
MAN_OUTPUT='
function esc(s) { gsub(/\\/, "\\e", s); return s }
function opt(s) { s = esc(s); gsub(/-/, "\\-", s); return s }
function text(s) { s = esc(s); if (s ~ /^[.\047]/) s = "\\&" s; return s }
function emit_role(word, t) { roles = roles ".TP\n.B " word "\n" text(t) "\n" }
function emit_option(flag, meta, env, envval, dflt, help,   tag, where) {
  if (flag != "") tag = "\\fB" opt(flag) "\\fR"; else tag = "\\fB" opt(env) "\\fR="
  if (meta != "") tag = tag (flag != "" ? " " : "") "\\fI" esc(meta) "\\fR"
  options = options ".TP\n" tag "\n" text(help) "\n"
  if (env == "") return
  if (flag == "") where = "No flag"
  else if (envval != "") where = "Environment: \\fB" opt(env) "=" esc(envval) "\\fR"
  else where = "Environment: \\fB" opt(env) "\\fR"
  options = options ".br\n" where "; default: " esc(dflt) "\n"
  environment = environment ".TP\n.B " opt(env) "\n"
  if (flag != "") environment = environment "As \\fB" opt(flag) "\\fR" (envval != "" ? " when set to \\fB" esc(envval) "\\fR" : "") ": " esc(help) "\n"
  else environment = environment text(help) "; default: " esc(dflt) "\n"
}
function finish(   line, n) {
  while ((getline line < template) > 0) {
    n++
    if (line == ".\\\" @ROLES@") { printf "%s", roles; seen_r++ }
    else if (line == ".\\\" @OPTIONS@") { printf "%s", options; seen_o++ }
    else if (line == ".\\\" @ENVIRONMENT@") { printf "%s", environment; seen_e++ }
    else { gsub(/@VERSION@/, version, line); print line }
  }
  if (n == 0 || seen_r != 1 || seen_o != 1 || seen_e != 1) {
    printf "gen-help-docs: %s must hold each marker line once (@ROLES@, @OPTIONS@, @ENVIRONMENT@)\n", template > "/dev/stderr"
    exit 1
  }
}
'

# A default is written as the value only when it is one (127.0.0.1, 3232, reference); one that
# --help describes in words or computes (http://localhost:{PORT}, "embedded memory store",
# "none") leaves the value empty, which mcpd reads as "use the default".
# shellcheck disable=SC2016 # an awk program: its $ fields are awk's
ENV_OUTPUT='
function literal(d) { return d !~ /[ {}]/ && d != "none" }
function emit_role(word, t) { }
function emit_option(flag, meta, env, envval, dflt, help,   how) {
  if (env == "") return
  body = body "\n# " help "\n"
  if (flag == "") how = "no flag"
  else if (envval != "") how = "flag " flag "; " env "=" envval " turns it on"
  else how = "flag " flag
  body = body "# " how "; default: " dflt "\n"
  body = body "# " env "=" ((literal(dflt) && envval == "") ? dflt : "") "\n"
}
function finish() {
  print "# mcpd settings: every variable mcpd reads, with its help text and default. Generated from"
  print "# `mcpd --help` by scripts/gen-help-docs.sh (`make env-example`); do not edit by hand."
  print "#"
  print "# Copy it to .env in the directory mcpd runs in, or to /etc/mcpd/mcpd.env for the systemd"
  print "# unit (its EnvironmentFile), and uncomment what you change. Each setting is read, weakest"
  print "# first, from its default, ./.env, the environment, then the flag. An empty value means the"
  print "# default. Keep the file private (mode 0600): it may hold secrets."
  print "#"
  print "# The systemd unit also reads the role from this file (mcpd itself does not):"
  print "# MCPD_ROLE=all"
  printf "%s", body
}
'

# Markdown: one row per setting; a pipe in a cell is escaped, code spans for names and values.
# shellcheck disable=SC2016 # an awk program: its $ fields are awk's
MD_OUTPUT='
function cell(s) { gsub(/\|/, "\\|", s); return s }
function emit_role(word, t) { }
function emit_option(flag, meta, env, envval, dflt, help,   f, e) {
  if (env == "") return
  f = flag == "" ? "(none)" : "`" flag (meta != "" ? " <" meta ">" : "") "`"
  e = "`" env (envval != "" ? "=" envval : "") "`"
  body = body "| " cell(f) " | " cell(e) " | " cell(dflt) " | " cell(help) " |\n"
}
function finish() {
  print "| flag | environment variable | default | meaning |"
  print "|---|---|---|---|"
  printf "%s", body
}
'

[ $# -ge 1 ] || usage
case $1 in
man)
  [ $# -eq 4 ] || usage
  exec awk -v template="$2" -v version="$3" "$MAN_OUTPUT$PARSER" "$4"
  ;;
env)
  [ $# -eq 2 ] || usage
  exec awk "$ENV_OUTPUT$PARSER" "$2"
  ;;
md)
  [ $# -eq 2 ] || usage
  exec awk "$MD_OUTPUT$PARSER" "$2"
  ;;
*) usage ;;
esac
