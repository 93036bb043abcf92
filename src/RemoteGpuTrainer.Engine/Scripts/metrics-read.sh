#!/usr/bin/env bash
# Export-GpuChart's read of cells' metric histories: for each cell's checkpoint directory given as an
# argument, the last LINES lines of the first of metrics.jsonl and metrics.csv found there (one record
# per epoch or step, written by the trainer), with a CSV's header line kept.
# Parameters: LINES; $@: the cells' checkpoint directories.
# Sections: cell-N for the N-th directory (from 1): "<file name>" on the first line, then the lines;
# status RGT_EXIT_MISSING when the directory has neither file.

read_history() {
  local d=$1 f
  for f in "$d/metrics.jsonl" "$d/metrics.csv"; do
    [ -f "$f" ] || continue
    printf '%s\n' "${f##*/}"
    if [ "${f##*.}" = csv ]; then
      head -n 1 "$f"
      tail -n +2 "$f" | tail -n "$LINES"
    else
      tail -n "$LINES" "$f"
    fi
    return 0
  done
  echo "no metrics.jsonl or metrics.csv in $d"
  return "$RGT_EXIT_MISSING"
}

i=0
for d in "$@"; do
  i=$((i + 1))
  rgt_section "cell-$i" read_history "$d"
done
