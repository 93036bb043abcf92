#!/usr/bin/env bash
# Remove-GpuRental's evidence (docs/ARCHITECTURE.md, the evidence chain), after queue-state.sh in the same script: the SHA-256
# of every kept artifact on the box now, computed fresh (never from the cache).
# Parameters: KEEP (the artifact's file name), DATA_DIR, DURABLE_DIR.
# Section: hashes, records "<sha256><TAB><path><NUL>"; status 1 when a file could not be hashed.
# uses: hash

hash_artifacts() {
  local f h rc=0
  set --
  if [ -n "$DURABLE_DIR" ]; then set -- "$DURABLE_DIR"/final_ckpts/*/"$KEEP"; fi
  if [ -n "$DATA_DIR" ]; then set -- "$@" "$DATA_DIR"/checkpoints/*/*/"$KEEP"; fi
  for f in "$@"; do
    [ -f "$f" ] || continue
    if h=$(rgt_sha256 "$f"); then printf '%s\t%s\0' "$h" "$f"; else echo "cannot hash $f"; rc=1; fi
  done
  return "$rc"
}

rgt_section hashes hash_artifacts
