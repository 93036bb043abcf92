#!/usr/bin/env bash
# The checkpoint mirror's look at the box, one round trip a tick: for each running cell's checkpoint
# directory, each artifact of NAMES with its size, mtime and SHA-256. The hash is cached by inode, size
# and mtime (hash.sh), so a file that did not change is not read again. A file written in the last
# SETTLE seconds may be half saved: the probe waits (once) until it is that old and looks again; one
# written again meanwhile is still being saved, reported BUSY and not hashed. (Without the wait a
# trainer that saves every few seconds would be BUSY at most looks.)
# Each file is first hard-linked to SNAP/<index>-<name> and that link is what is hashed and then pulled:
# a trainer that saves again (a new file renamed over the name) does not change the bytes under the pull.
# The links of the last tick are removed first; where a link cannot be made (another file system), the
# file itself is reported (the record's last field is its path either way).
# Parameters: NAMES (artifact file names, one per line), SETTLE (seconds), SNAP (a folder on the box).
# $@: pairs INDEX DIR.
# Section: mirror, records "FILE<TAB>index<TAB>name<TAB>size<TAB>mtime (seconds, a fraction where known)<TAB>sha256<TAB>path" and "BUSY<TAB>index<TAB>name".
# uses: hash

probe() {
  local now index dir name f src meta size mtime fine age sha waited=""
  now=$(date +%s)
  mkdir -p "$SNAP" 2> /dev/null && rm -f "$SNAP"/*-* 2> /dev/null
  while [ $# -ge 2 ]; do
    index=$1
    dir=$2
    shift 2
    while IFS= read -r name; do
      [ -n "$name" ] || continue
      f="$dir/$name"
      [ -f "$f" ] || continue
      src="$SNAP/$index-$name"
      ln -f -- "$f" "$src" 2> /dev/null || src=$f
      meta=$(stat -L -c '%s %Y %.9Y' -- "$src" 2> /dev/null) || continue
      read -r size mtime fine <<< "$meta"
      # The mtime with its fraction where stat can print one (GNU coreutils 8.32+): the resume judge's pace comes from it.
      case $fine in [0-9]*.[0-9]*) ;; *) fine=$mtime ;; esac
      age=$((now - mtime))
      # (An mtime ahead of the box's clock is not waited for: the clock moved.)
      if [ "$age" -ge 0 ] && [ "$age" -lt "$SETTLE" ] && [ -z "$waited" ]; then
        waited=1
        sleep $((SETTLE - age))
        now=$(date +%s)
        if [ "$(stat -L -c '%s %Y %.9Y' -- "$src" 2> /dev/null)" = "$meta" ]; then age=$SETTLE; fi
      fi
      if [ "$age" -lt "$SETTLE" ]; then
        printf 'BUSY\t%s\t%s\n' "$index" "$name"
        [ "$src" = "$f" ] || rm -f -- "$src"
        continue
      fi
      sha=$(rgt_sha256_cached "$src") || continue
      printf 'FILE\t%s\t%s\t%s\t%s\t%s\t%s\n' "$index" "$name" "$size" "$fine" "$sha" "$src"
    done <<< "$NAMES"
  done
}

rgt_section mirror probe "$@"
