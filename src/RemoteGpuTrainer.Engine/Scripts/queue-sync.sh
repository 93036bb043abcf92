#!/usr/bin/env bash
# Sync-GpuCheckpoint (the on-box safety net): for every finished cell, copy the kept artifact,
# metrics and log to DURABLE_DIR/final_ckpts/<cell> through temporary names, each verified by SHA-256
# (rgt_copy_verified, the launcher's own routine): a SyncFailed cell becomes Succeeded only on that.
# Parameters: QUEUES_ROOT, QUEUE_ID (empty: all), DATA_DIR, DURABLE_DIR, KEEP.
# Section: sync, records "<status><TAB><bytes><TAB><detail><TAB><queue><TAB><cell>", status COPIED,
# SKIPPED (no metrics yet) or FAILED (with df bytes and inodes of the durable disk).
# uses: hash


sync_cells() {
  local q qid c name st rc ck dest bytes why f df di
  for q in "$QUEUES_ROOT"/*/; do
    [ -d "$q" ] || continue
    q=${q%/}
    qid=${q##*/}
    if [ -n "$QUEUE_ID" ] && [ "$qid" != "$QUEUE_ID" ]; then continue; fi
    for c in "$q"/cells/*/; do
      [ -d "$c" ] || continue
      c=${c%/}
      name=${c##*/}
      st=$(cat "$c/state" 2> /dev/null)
      rc=$(cat "$c/exit_code" 2> /dev/null)
      [ "$st" = Succeeded ] || [ "$st" = SyncFailed ] || [ "$rc" = 0 ] || continue
      ck="$DATA_DIR/checkpoints/$qid/$name"
      dest="$DURABLE_DIR/final_ckpts/$name"
      set -- "$ck"/*metrics*.json
      if [ ! -f "$1" ]; then
        printf 'SKIPPED\t0\tno metrics file in %s\t%s\t%s\n' "$ck" "$qid" "$name"
        continue
      fi
      bytes=0
      why=""
      if [ ! -s "$ck/$KEEP" ]; then why="no $KEEP in $ck: nothing to keep"; fi
      if [ -z "$why" ]; then mkdir -p "$dest" 2> /dev/null || why="cannot create $dest"; fi
      if [ -z "$why" ]; then
        for f in "$ck/$KEEP" "$ck"/*metrics*.json "$c/log"; do
          [ -f "$f" ] || continue
          rgt_copy_verified "$f" "$dest" || {
            why=$RGT_WHY
            break
          }
          bytes=$((bytes + RGT_BYTES))
        done
      fi
      if [ -n "$why" ]; then
        df=$(df -Pk "$DURABLE_DIR" 2> /dev/null | tail -n 1 | awk '{print $5" bytes used"}')
        di=$(df -iP "$DURABLE_DIR" 2> /dev/null | tail -n 1 | awk '{print $5" inodes used"}')
        printf 'FAILED\t%s\t%s (durable disk: %s, %s)\t%s\t%s\n' "$bytes" "$(printf '%s' "$why" | tr '\n\t' '  ')" "$df" "$di" "$qid" "$name"
        continue
      fi
      if [ "$st" = SyncFailed ]; then rgt_put "$c/state" Succeeded; fi
      printf 'COPIED\t%s\t%s\t%s\t%s\n' "$bytes" "$dest" "$qid" "$name"
    done
  done
}

rgt_section sync sync_cells
