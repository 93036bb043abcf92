#!/usr/bin/env bash
# Send-GpuFile's steps on the box for one file, uploaded to a hidden partial beside the target.
# Parameters: MODE_STEP (probe, tag, write, chunks or commit), DIR, FINAL, PARTIAL; for tag, write and
# chunks also TAG (which version of the local file the partial holds, and how it is sent: "<length>
# <version> 1" for one stream, "<length> <version> c<chunk bytes>" for chunks over several channels);
# for write also OFFSET; for commit also SHA (expected SHA-256), LENGTH and PERMS (octal mode bits to
# set, empty: leave).
# Section upload: probe prints "final<TAB>size<TAB>sha<TAB>perms", "partial<TAB>size<TAB>tag" and
# "chunk<TAB>offset<TAB>length" for each chunk that landed whole; write appends stdin to the partial,
# which must be OFFSET bytes long (0: a new one, tagged first); chunks reads "<offset> <length>" lines
# from stdin, each followed by that many bytes, writes them into the partial at that offset and
# records each whole chunk; commit verifies size and hash, sets the mode, renames, and prints "OK" or
# "MISMATCH<TAB>sha".
# uses: hash

probe() {
  local h
  mkdir -p "$DIR" || { echo "cannot create $DIR"; exit "$RGT_EXIT_UNREADABLE"; }
  if [ -f "$FINAL" ]; then
    h=$(rgt_sha256_cached "$FINAL") || exit "$RGT_EXIT_FAILED"
    printf 'final\t%s\t%s\t%s\n' "$(stat -c %s "$FINAL")" "$h" "$(stat -c %a "$FINAL")"
  fi
  if [ -f "$PARTIAL" ] || [ -f "$PARTIAL.src" ]; then printf 'partial\t%s\t%s\n' "$(stat -c %s "$PARTIAL" 2> /dev/null || echo 0)" "$(cat "$PARTIAL.src" 2> /dev/null)"; fi
  if [ -f "$PARTIAL.landed" ]; then
    while read -r off len; do printf 'chunk\t%s\t%s\n' "$off" "$len"; done < "$PARTIAL.landed"
  fi
  return 0
}

# Tags the partial for this upload; another upload's leftovers (another file, another split) go.
tag() {
  if [ "$(cat "$PARTIAL.src" 2> /dev/null)" != "$TAG" ]; then
    rm -f "$PARTIAL" "$PARTIAL".[0-9]* "$PARTIAL.landed"
    printf '%s' "$TAG" > "$PARTIAL.src" || exit "$RGT_EXIT_FAILED"
  fi
}

write() {
  tag
  if [ "$OFFSET" = 0 ]; then
    cat > "$PARTIAL" || exit "$RGT_EXIT_FAILED"
    return
  fi
  [ "$(stat -c %s "$PARTIAL" 2> /dev/null)" = "$OFFSET" ] || { echo "$PARTIAL is not $OFFSET bytes long"; exit "$RGT_EXIT_CHANGED"; }
  cat >> "$PARTIAL" || exit "$RGT_EXIT_FAILED"
}

# Chunks arrive over several channels at once, each written in place (no join afterwards); a chunk
# is recorded only when dd wrote all of it, so a cut channel costs at most its chunk in flight.
chunks() {
  local off len out
  [ "$(cat "$PARTIAL.src" 2> /dev/null)" = "$TAG" ] || { echo "$PARTIAL is not tagged for this upload"; exit "$RGT_EXIT_CHANGED"; }
  while read -r off len; do
    out=$(dd of="$PARTIAL" bs=1M iflag=fullblock,count_bytes count="$len" oflag=seek_bytes seek="$off" conv=notrunc 2>&1) || { echo "$out"; exit "$RGT_EXIT_FAILED"; }
    if ! [[ $out =~ (^|$'\n')([0-9]+)\ bytes ]] || [ "${BASH_REMATCH[2]}" != "$len" ]; then
      echo "chunk at $off ended early"
      exit "$RGT_EXIT_FAILED"
    fi
    printf '%s %s\n' "$off" "$len" >> "$PARTIAL.landed" || exit "$RGT_EXIT_FAILED"
  done
}

commit() {
  local h
  if [ -f "$FINAL" ] && [ ! -f "$PARTIAL" ]; then
    # Already verified earlier (a Skipped upload whose mode differs): only the mode is set.
    h=$(rgt_sha256 "$FINAL") || exit "$RGT_EXIT_FAILED"
    [ "$h" = "$SHA" ] || { printf 'MISMATCH\t%s\n' "$h"; exit 0; }
    if [ -n "$PERMS" ]; then chmod "$PERMS" "$FINAL" || exit "$RGT_EXIT_FAILED"; fi
    echo OK
    exit 0
  fi
  h=$(rgt_sha256 "$PARTIAL") || exit "$RGT_EXIT_FAILED"
  if [ "$h" != "$SHA" ] || [ "$(stat -c %s "$PARTIAL")" != "$LENGTH" ]; then
    rm -f "$PARTIAL" "$PARTIAL.src" "$PARTIAL.landed"
    printf 'MISMATCH\t%s\n' "$h"
    exit 0
  fi
  if [ -n "$PERMS" ]; then chmod "$PERMS" "$PARTIAL" || exit "$RGT_EXIT_FAILED"; fi
  mv -f "$PARTIAL" "$FINAL" || exit "$RGT_EXIT_FAILED"
  rgt_sha256_remember "$FINAL" "$h"
  rm -f "$PARTIAL.src" "$PARTIAL.landed"
  echo OK
}

case $MODE_STEP in
  commit) rgt_section upload commit ;;
  write) rgt_section_stdin upload write ;;
  chunks) rgt_section_stdin upload chunks ;;
  tag) rgt_section upload tag ;;
  *) rgt_section upload probe ;;
esac
