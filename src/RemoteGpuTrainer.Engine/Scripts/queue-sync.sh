#!/usr/bin/env bash
# Sync-GpuCheckpoint (the on-box safety net): for every finished cell, copy the kept artifact,
# metrics and log to DURABLE/final_ckpts/<cell> through temporary names, verifying sizes.
# Parameters: QUEUES_ROOT, QUEUE_ID (empty: all), DATA, DURABLE, KEEP.
# Section: sync, records "<status><TAB><bytes><TAB><detail><TAB><queue><TAB><cell>", status Copied,
# Skipped (no metrics yet) or Failed (with df bytes and inodes of the durable disk).


sync_cells() {
  local q qid c name st rc ck dest bytes why f b err s1 s2 df di
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
      ck="$DATA/checkpoints/$qid/$name"
      dest="$DURABLE/final_ckpts/$name"
      set -- "$ck"/*metrics*.json
      if [ ! -f "$1" ]; then
        printf 'Skipped\t0\tno metrics file in %s\t%s\t%s\n' "$ck" "$qid" "$name"
        continue
      fi
      bytes=0
      why=""
      if [ ! -s "$ck/$KEEP" ]; then why="no $KEEP in $ck: nothing to keep"; fi
      if [ -z "$why" ]; then mkdir -p "$dest" 2> /dev/null || why="cannot create $dest"; fi
      if [ -z "$why" ]; then
        for f in "$ck/$KEEP" "$ck"/*metrics*.json "$c/log"; do
          [ -f "$f" ] || continue
          b=${f##*/}
          if ! err=$(cp -f "$f" "$dest/.$b.rgt-tmp" 2>&1); then
            why="copy of $b failed: $err"
            rm -f "$dest/.$b.rgt-tmp"
            break
          fi
          s1=$(stat -c %s "$f")
          s2=$(stat -c %s "$dest/.$b.rgt-tmp")
          if [ "$s1" != "$s2" ]; then
            why="size of $b differs after copy ($s1 vs $s2)"
            rm -f "$dest/.$b.rgt-tmp"
            break
          fi
          mv -f "$dest/.$b.rgt-tmp" "$dest/$b" || { why="rename of $b failed"; break; }
          bytes=$((bytes + s1))
        done
      fi
      if [ -n "$why" ]; then
        df=$(df -Pk "$DURABLE" 2> /dev/null | tail -n 1 | awk '{print $5" bytes used"}')
        di=$(df -iP "$DURABLE" 2> /dev/null | tail -n 1 | awk '{print $5" inodes used"}')
        printf 'Failed\t%s\t%s (durable disk: %s, %s)\t%s\t%s\n' "$bytes" "$(printf '%s' "$why" | tr '\n\t' '  ')" "$df" "$di" "$qid" "$name"
        continue
      fi
      if [ "$st" = SyncFailed ]; then rgt_put "$c/state" Succeeded; fi
      printf 'Copied\t%s\t%s\t%s\t%s\n' "$bytes" "$dest" "$qid" "$name"
    done
  done
}

rgt_section sync sync_cells
