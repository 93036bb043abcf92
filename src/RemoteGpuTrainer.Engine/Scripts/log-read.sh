#!/usr/bin/env bash
# Get-GpuLog: a cell's log on the box, read-only. Parameters: LOG (the cell's log), OFFSET (bytes
# already read; -1: the last TAIL lines), TAIL.
# Sections: meta, records "end<TAB><byte offset read up to>" and "state<TAB><the cell's state>",
# then log: the text. Only whole lines are read: a line still being written waits for the next read.

missing_log() {
  echo "no such log: $LOG"
  exit "$RGT_EXIT_MISSING"
}

if [ ! -f "$LOG" ]; then
  rgt_section log missing_log
  exit 0
fi
# The state first, then the size: a cell writes its closing line before its final state, so a final
# state read here means that line is within SIZE (a follow that stops on it has read everything).
STATE=$(cat "$(dirname "$LOG")/state" 2> /dev/null)
SIZE=$(stat -c %s "$LOG")
if [ "$OFFSET" -gt "$SIZE" ]; then OFFSET=0; fi # the log was truncated or replaced
END=$SIZE
if [ "$OFFSET" -ge 0 ]; then
  LINES=$(tail -c +"$((OFFSET + 1))" "$LOG" | head -c "$((SIZE - OFFSET))" | tr -dc '\n' | wc -c)
  END=$((OFFSET + $(tail -c +"$((OFFSET + 1))" "$LOG" | head -n "$LINES" | wc -c)))
fi

print_meta() {
  printf 'end\t%s\n' "$END"
  printf 'state\t%s\n' "$STATE"
}

print_log() {
  if [ "$OFFSET" -lt 0 ]; then
    head -c "$SIZE" "$LOG" | tail -n "$TAIL"
  else
    tail -c +"$((OFFSET + 1))" "$LOG" | head -c "$((END - OFFSET))"
  fi
}

rgt_section meta print_meta
rgt_section log print_log
