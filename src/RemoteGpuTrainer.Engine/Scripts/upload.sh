#!/usr/bin/env bash
# Send-GpuFile's steps on the box for one file, uploaded to a hidden partial beside the target.
# Parameters: MODE_STEP (probe, tag, write or commit), DIR, FINAL, PARTIAL; for write also OFFSET, TAG
# (what the partial holds: "<length> <sha256> <parts>") and PART (empty: the partial itself; N: its
# part N, for a file sent as ranges over several channels at once); for commit also SHA (expected
# SHA-256), LENGTH, PERMS (octal mode bits to set, empty: leave) and PARTS (how many parts to join first).
# Section upload: probe prints "final<TAB>size<TAB>sha<TAB>perms", "partial<TAB>size<TAB>tag" and
# "part<TAB>N<TAB>size" for each part; write appends stdin to the partial or part, which must be OFFSET
# bytes long (0: a new one; the first tags the upload); commit joins the parts, verifies size and
# hash, sets the mode, renames, and prints "OK" or "MISMATCH<TAB>sha".

probe() {
  local h
  mkdir -p "$DIR" || { echo "cannot create $DIR"; exit 3; }
  if [ -f "$FINAL" ]; then
    h=$(rgt_sha256_cached "$FINAL") || exit 1
    printf 'final\t%s\t%s\t%s\n' "$(stat -c %s "$FINAL")" "$h" "$(stat -c %a "$FINAL")"
  fi
  if [ -f "$PARTIAL" ] || [ -f "$PARTIAL.src" ]; then printf 'partial\t%s\t%s\n' "$(stat -c %s "$PARTIAL" 2> /dev/null || echo 0)" "$(cat "$PARTIAL.src" 2> /dev/null)"; fi
  for p in "$PARTIAL".[0-9]*; do
    [ -f "$p" ] && printf 'part\t%s\t%s\n' "${p##*.}" "$(stat -c %s "$p")"
  done
  return 0
}

# Tags the partial for this upload; another upload's leftovers (another file, another split) go.
tag() {
  if [ "$(cat "$PARTIAL.src" 2> /dev/null)" != "$TAG" ]; then
    rm -f "$PARTIAL" "$PARTIAL".[0-9]*
    printf '%s' "$TAG" > "$PARTIAL.src" || exit 1
  fi
}

write() {
  local f=$PARTIAL${PART:+.$PART}
  # A single stream tags for itself; parts are written at once, after one tag step.
  if [ -z "$PART" ]; then tag; elif [ "$(cat "$PARTIAL.src" 2> /dev/null)" != "$TAG" ]; then
    echo "$PARTIAL is not tagged for this upload"
    exit 4
  fi
  if [ "$OFFSET" = 0 ]; then
    cat > "$f" || exit 1
    return
  fi
  [ "$(stat -c %s "$f" 2> /dev/null)" = "$OFFSET" ] || { echo "$f is not $OFFSET bytes long"; exit 4; }
  cat >> "$f" || exit 1
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
  if [ "${PARTS:-0}" -gt 1 ]; then
    local i=0
    : > "$PARTIAL" || exit 1
    while [ "$i" -lt "$PARTS" ]; do
      cat "$PARTIAL.$i" >> "$PARTIAL" || exit 1
      i=$((i + 1))
    done
    rm -f "$PARTIAL".[0-9]*
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

case $MODE_STEP in
  commit) rgt_section upload commit ;;
  write) rgt_section_stdin upload write ;;
  tag) rgt_section upload tag ;;
  *) rgt_section upload probe ;;
esac
