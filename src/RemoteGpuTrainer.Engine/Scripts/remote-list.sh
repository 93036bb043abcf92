#!/usr/bin/env bash
# Lists a remote file or folder for a pull. Parameters: ROOT (absolute).
# Section: list, records "<size><TAB><mtime><TAB><path relative to ROOT, or ROOT itself><NUL>";
# status RGT_EXIT_MISSING: no such file or folder, RGT_EXIT_UNREADABLE: not readable.

list_root() {
  if [ -f "$ROOT" ]; then
    printf '%s\t%s\t%s\0' "$(stat -L -c %s "$ROOT")" "$(stat -L -c %Y "$ROOT")" "$ROOT"
    exit 0
  fi
  [ -d "$ROOT" ] || { echo "no such file or directory: $ROOT"; exit "$RGT_EXIT_MISSING"; }
  if [ ! -r "$ROOT" ] || [ ! -x "$ROOT" ]; then echo "permission denied: $ROOT"; exit "$RGT_EXIT_UNREADABLE"; fi
  cd "$ROOT" || exit "$RGT_EXIT_UNREADABLE"
  find -L . -type f ! -name '*.rgt-tmp' ! -name '.*.rgt-partial' -printf '%s\t%T@\t%P\0'
}

rgt_section list list_root
