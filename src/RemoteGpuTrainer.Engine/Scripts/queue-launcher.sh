#!/usr/bin/env bash
# RemoteGpuTrainer queue launcher (docs/ARCHITECTURE.md, "A queue cell's life"), written by queue-start.sh as launcher-<n>.sh.
# Never edited in place: each launch writes a new numbered file. It runs the cells in order, each
# with its own log and markers (queue-cell.sh, put before this file, with its parameters).
# $@: the cells, as groups of INDEX NAME COMMAND FORCE.
# standalone: written to a file of its own; the user's commands inherit its environment
# uses: queue-cell
set -u

# The lock is held for the launcher's life and by its cells: a second launcher of this queue exits.
# (It waits a little: queue-start.sh tests the lock while it waits for this launcher to take it.)
exec 9> "$Q/.running"
if ! flock -w 10 9; then
  echo "=== rgt: another launcher of queue $QUEUE_ID holds its lock; this one exits" >> "$Q/master.log"
  exit "$RGT_EXIT_BUSY"
fi

rgt_put "$Q/launcher.pid" "$$"

failed=""
while [ $# -ge 4 ]; do
  run_cell "$2" "$3" "$4" || failed="$failed $1:$2"
  hide_log
  shift 4
done
if [ -z "$failed" ]; then
  rgt_put "$Q/QUEUE_DONE" "$(rgt_now)"
  rm -f "$Q/QUEUE_FAILED"
  exit 0
fi
rgt_put "$Q/QUEUE_FAILED" "failed cells:$failed"
exit "$RGT_EXIT_FAILED"
