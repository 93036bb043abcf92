#!/usr/bin/env bash
# The checkpoint mirror's look at the box, one round trip a tick: for each running cell's checkpoint
# directory, each artifact of NAMES with its size, mtime and SHA-256. The hash is cached by inode, size
# and mtime (hash.sh), so a file that did not change is not read again. A file written in the last
# SETTLE seconds may be half saved: it is reported BUSY and not hashed.
# Parameters: NAMES (artifact file names, one per line), SETTLE (seconds). $@: pairs INDEX DIR.
# Section: mirror, records "FILE<TAB>index<TAB>name<TAB>size<TAB>mtime<TAB>sha256" and "BUSY<TAB>index<TAB>name".
# uses: hash

probe() {
  local now index dir name f meta size mtime sha
  now=$(date +%s)
  while [ $# -ge 2 ]; do
    index=$1
    dir=$2
    shift 2
    while IFS= read -r name; do
      [ -n "$name" ] || continue
      f="$dir/$name"
      [ -f "$f" ] || continue
      meta=$(stat -L -c '%s %Y' -- "$f" 2> /dev/null) || continue
      size=${meta% *}
      mtime=${meta#* }
      if [ $((now - mtime)) -lt "$SETTLE" ]; then
        printf 'BUSY\t%s\t%s\n' "$index" "$name"
        continue
      fi
      sha=$(rgt_sha256_cached "$f") || continue
      printf 'FILE\t%s\t%s\t%s\t%s\t%s\n' "$index" "$name" "$size" "$mtime" "$sha"
    done <<< "$NAMES"
  done
}

rgt_section mirror probe "$@"
