#!/usr/bin/env bash
# The layer rule of docs/architecture.md, checked from the #include lines of src/:
#   1. a folder includes only itself and the folders below it in LAYERS (lower index = lower);
#   2. no include cycle between modules (module_of below), found with tsort.
# Prints each violation and exits 1 if there is one. Used by tests/layers/style.sh.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

# Folders that may include each other sit on the same rank.
declare -A RANK=([lib]=0 [http]=1 [store]=1 [app]=2 [web]=3 [auth]=4 [mcp]=5 [main]=6)
bad=0

folder_of() { # src/x/y.c -> x ; src/main.c -> main ; src/mcp/features/a.c -> mcp
  local p=${1#src/}
  case $p in */*) echo "${p%%/*}" ;; *) echo main ;; esac
}
# A module is a .c file with the headers it implements: foo.h, and foo_*.h when there is no
# foo_*.c (foo_internal.h, store_backend.h). src/mcp/session.h -> mcp/session.
module_of() {
  local p=${1#src/}
  p=${p%.c}
  p=${p%.h}
  local m=$p
  while [ ! -e "src/$m.c" ] && [[ ${m##*/} == *_* ]]; do
    m=${m%_*}
  done
  [ -e "src/$m.c" ] && echo "$m" || echo "$p"
}

edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
while IFS= read -r file; do
  from=$(folder_of "$file")
  while IFS= read -r inc; do
    [ -e "src/$inc" ] || continue # a system or generated header
    to=$(folder_of "src/$inc")
    if [ "$from" != "$to" ] && [ "${RANK[$to]}" -ge "${RANK[$from]}" ]; then
      echo "layer: $file includes $inc ($from may not include $to)"
      bad=1
    fi
    a=$(module_of "$file")
    b=$(module_of "src/$inc")
    [ "$a" != "$b" ] && echo "$b $a" >>"$edges"
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$file")
done < <(find src -name '*.c' -o -name '*.h' | sort)

if ! tsort "$edges" >/dev/null 2>"$edges.err"; then
  echo "include cycle between modules:"
  sed -e 's/^tsort: .*: input contains a loop:$/  cycle:/' -e 's/^tsort: /    /' "$edges.err"
  bad=1
fi
rm -f "$edges.err"
if [ "$bad" -eq 0 ]; then
  echo "layers: $(find src -name '*.c' -o -name '*.h' | wc -l) files, no upward include, no module cycle"
fi
exit "$bad"
