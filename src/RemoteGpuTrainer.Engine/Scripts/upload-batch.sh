#!/usr/bin/env bash
# Send-GpuFile for many small files (a source tree): one exec channel per batch instead of an SFTP
# session and two round trips per file, and no process per file on the box (a fork per file made
# 2,000 files take seconds). Parameters: MODE_STEP (probe or extract), DEST (absolute); STAGE (a new
# hidden folder under DEST) for extract. hash.sh is loaded first.
#
# probe: stdin holds relative names, each ending in NUL. Section batch: for each that is a file
#   under DEST, "<sha256><TAB><octal mode><TAB><name><NUL>".
# chmod: stdin holds "<octal mode> <name><NUL>" records for files that are there with the right
#   content and another mode. Section batch prints "OK<TAB><name><NUL>" or "MISMATCH<TAB>why<TAB><name><NUL>".
# extract: stdin is a tar stream of "manifest" (records "<sha256> <name><NUL>") and "f/<name>" for
#   each file, modes in the headers. Each file whose SHA-256 matches its record is renamed into place
#   (directories made as needed); section batch prints "OK<TAB><name><NUL>" or
#   "MISMATCH<TAB><sha256 or why><TAB><name><NUL>". STAGE is removed at the end, whatever happened.
# uses: hash

# rgt_sums DIR: "<sha256>  <name><NUL>" for the NUL-separated names on stdin, relative to DIR.
rgt_sums() {
  local rel h
  if sha256sum -z /dev/null > /dev/null 2>&1; then
    (cd "$1" && xargs -0 -r sha256sum -z --)
    return
  fi
  while IFS= read -r -d '' rel; do
    if h=$(rgt_sha256 "$1/$rel"); then printf '%s  %s\0' "$h" "$rel"; fi
  done
}

probe() {
  local rel rec
  local -a present=()
  declare -A mode=()
  # Staging folders of uploads cut off long ago (a dropped link gives bash no chance to clean up).
  find "$DEST" -maxdepth 1 -name '.rgt-batch-*' -type d -mmin +60 -exec rm -rf {} + 2> /dev/null
  while IFS= read -r -d '' rel; do
    if [ -f "$DEST/$rel" ]; then present+=("$rel"); fi
  done
  [ "${#present[@]}" -gt 0 ] || return 0
  while IFS= read -r -d '' rec; do mode[${rec#*$'\t'}]=${rec%%$'\t'*}; done < <(cd "$DEST" && printf '%s\0' "${present[@]}" | xargs -0 -r stat --printf '%a\t%n\0' --)
  while IFS= read -r -d '' rec; do
    printf '%s\t%s\t%s\0' "${rec:0:64}" "${mode[${rec:66}]:-}" "${rec:66}"
  done < <(printf '%s\0' "${present[@]}" | rgt_sums "$DEST")
}

modes() {
  local rec rel
  while IFS= read -r -d '' rec; do
    rel=${rec#* }
    if chmod "${rec%% *}" -- "$DEST/$rel"; then printf 'OK\t%s\0' "$rel"; else printf 'MISMATCH\tcannot chmod\t%s\0' "$rel"; fi
  done
}

# rgt_place: renames the staged files named on stdin (NUL-separated) to the same names under DEST.
rgt_place() {
  local rel
  if command -v perl > /dev/null 2>&1; then
    perl -0 -ne 'chomp; my ($s, $d) = ("$ENV{RGT_FROM}/$_", "$ENV{RGT_TO}/$_"); my $p = "";
      for my $c (split m{/}, ($d =~ m{^(.*)/} ? $1 : "")) { $p .= ($p eq "" && $c eq "" ? "" : "/") . $c; next if $p eq "" || -d $p; mkdir $p; }
      if (rename $s, $d) { print "OK\t$_\0" } else { print "MISMATCH\tcannot rename: $!\t$_\0" }'
    return
  fi
  while IFS= read -r -d '' rel; do
    case $rel in */*) mkdir -p "$RGT_TO/${rel%/*}" ;; esac
    if mv -f "$RGT_FROM/$rel" "$RGT_TO/$rel"; then printf 'OK\t%s\0' "$rel"; else printf 'MISMATCH\tcannot rename\t%s\0' "$rel"; fi
  done
}

extract() {
  local rec rel
  local -a names=() shas=() good=()
  declare -A got=()
  trap 'rm -rf "$STAGE"' EXIT HUP INT TERM
  mkdir -p "$STAGE" || exit "$RGT_EXIT_UNREADABLE"
  if ! tar -x -p -f - -C "$STAGE" --no-same-owner; then
    echo "tar could not unpack the stream"
    exit "$RGT_EXIT_UNREADABLE"
  fi
  while IFS= read -r -d '' rec; do
    shas+=("${rec:0:64}")
    names+=("${rec:65}")
  done < "$STAGE/manifest"
  while IFS= read -r -d '' rec; do got[${rec:66}]=${rec:0:64}; done < <(printf '%s\0' "${names[@]}" | rgt_sums "$STAGE/f")
  for i in "${!names[@]}"; do
    rel=${names[$i]}
    if [ "${got[$rel]:-}" = "${shas[$i]}" ]; then good+=("$rel"); else printf 'MISMATCH\t%s\t%s\0' "${got[$rel]:-missing}" "$rel"; fi
  done
  [ "${#good[@]}" -gt 0 ] || return 0
  printf '%s\0' "${good[@]}" | RGT_FROM="$STAGE/f" RGT_TO="$DEST" rgt_place
}

case $MODE_STEP in
  extract) rgt_section_stdin batch extract ;;
  chmod) rgt_section_stdin batch modes ;;
  *) rgt_section_stdin batch probe ;;
esac
