#!/usr/bin/env bash
# Send-GpuFile's two steps on the box around an SFTP upload to a hidden partial beside the target.
# Parameters: MODE_STEP (probe or commit), DIR, FINAL, PARTIAL; for commit also SHA (expected
# SHA-256), LENGTH, PERMS (octal mode bits to set, empty: leave).
# Section upload: probe prints "final<TAB>size<TAB>sha<TAB>perms" and "partial<TAB>size<TAB>tag";
# commit verifies size and hash, sets the mode, renames, and prints "OK" or "MISMATCH<TAB>sha".

probe() {
  local h
  mkdir -p "$DIR" || { echo "cannot create $DIR"; exit 3; }
  if [ -f "$FINAL" ]; then
    h=$(rgt_sha256_cached "$FINAL") || exit 1
    printf 'final\t%s\t%s\t%s\n' "$(stat -c %s "$FINAL")" "$h" "$(stat -c %a "$FINAL")"
  fi
  if [ -f "$PARTIAL" ]; then printf 'partial\t%s\t%s\n' "$(stat -c %s "$PARTIAL")" "$(cat "$PARTIAL.src" 2> /dev/null)"; fi
}

commit() {
  local h
  if [ -f "$FINAL" ] && [ ! -f "$PARTIAL" ]; then
    # Already verified earlier (a Skipped upload whose mode differs): only the mode is set.
    h=$(rgt_sha256 "$FINAL") || exit 1
    [ "$h" = "$SHA" ] || { printf 'MISMATCH\t%s\n' "$h"; exit 0; }
    if [ -n "$PERMS" ]; then chmod "$PERMS" "$FINAL" || exit 1; fi
    echo OK
    exit 0
  fi
  h=$(rgt_sha256 "$PARTIAL") || exit 1
  if [ "$h" != "$SHA" ] || [ "$(stat -c %s "$PARTIAL")" != "$LENGTH" ]; then
    rm -f "$PARTIAL" "$PARTIAL.src"
    printf 'MISMATCH\t%s\n' "$h"
    exit 0
  fi
  if [ -n "$PERMS" ]; then chmod "$PERMS" "$PARTIAL" || exit 1; fi
  mv -f "$PARTIAL" "$FINAL" || exit 1
  rgt_sha256_remember "$FINAL" "$h"
  rm -f "$PARTIAL.src"
  echo OK
}

if [ "$MODE_STEP" = commit ]; then rgt_section upload commit; else rgt_section upload probe; fi
