#!/usr/bin/env bash
# SHA-256 of remote files for a pull, through the box's hash cache (hash.sh, loaded first).
# $@: absolute paths. Section: hashes, records "<sha256><TAB><path><NUL>"; a file that cannot be
# hashed prints a line and makes the status 1.
# uses: hash

hash_files() {
  local f s rc=0
  for f in "$@"; do
    if ! s=$(rgt_sha256_cached "$f"); then echo "cannot hash $f"; rc=1; continue; fi
    printf '%s\t%s\0' "$s" "$f"
  done
  return "$rc"
}

rgt_section hashes hash_files "$@"
