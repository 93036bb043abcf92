#!/usr/bin/env bash
# Reads every queue under QUEUES_ROOT (or only QUEUE_ID), read-only. Parsed by Queues/QueueState.cs.
# Parameters: QUEUES_ROOT, QUEUE_ID (empty: all), TAIL_LINES.
# Section: queues. One record per line, its type first and tab-separated fields after it, so that a
# log line is only ever the field of a "tail" record:
#   now <epoch>, queue <id>, frozen <line of queue.txt>, assigned <cell>, meta <file> <text>,
#   alive <0|1>, cell <name>, value <marker> <text>, tail <log line>, crash <log line>, end;
#   "MISSING <root>" when no queue was ever launched there. Status RGT_EXIT_UNCONFIGURED: no QUEUES_ROOT;
#   RGT_EXIT_UNREADABLE: unreadable.
# A Slurm queue adds, per cell, "job <cell> <id>", and "sched <id|state|elapsed|reason|nodes|submitted>"
# while the scheduler holds the job, else "final <id> <state> <exit code>" where sacct or scontrol
# still know it and the cell's markers do not say how it ended; "schederr <text>" when squeue failed.
# uses: slurm

read_queues() {
  local T q qid lp alive c p m f now listing="" sched_read="" sched_err=""
  [ -n "$QUEUES_ROOT" ] || { echo 'no data directory is configured'; exit "$RGT_EXIT_UNCONFIGURED"; }
  if [ ! -e "$QUEUES_ROOT" ]; then
    printf 'MISSING\t%s\n' "$QUEUES_ROOT"
    echo end
    exit 0
  fi
  if [ ! -d "$QUEUES_ROOT" ] || [ ! -r "$QUEUES_ROOT" ] || [ ! -x "$QUEUES_ROOT" ]; then
    echo "cannot read $QUEUES_ROOT"
    exit "$RGT_EXIT_UNREADABLE"
  fi
  T=$(printf '\t')
  now=$(date +%s)
  printf 'now\t%s\n' "$now"
  for q in "$QUEUES_ROOT"/*/; do
    [ -d "$q" ] || continue
    q=${q%/}
    qid=${q##*/}
    if [ -n "$QUEUE_ID" ] && [ "$qid" != "$QUEUE_ID" ]; then continue; fi
    printf 'queue\t%s\n' "$qid"
    if [ -f "$q/queue.txt" ]; then sed "s/^/frozen$T/" "$q/queue.txt"; fi
    if [ -f "$q/assigned" ]; then sed "s/^/assigned$T/" "$q/assigned"; fi
    for m in session QUEUE_DONE QUEUE_FAILED launcher.pid; do
      if [ -f "$q/$m" ]; then printf 'meta\t%s\t%s\n' "$m" "$(head -c 2000 "$q/$m" | tr '\n\t' '  ')"; fi
    done
    lp=$(cat "$q/launcher.pid" 2> /dev/null)
    alive=0
    if [ -n "$lp" ] && kill -0 "$lp" 2> /dev/null && grep -qa launcher- "/proc/$lp/cmdline" 2> /dev/null; then alive=1; fi
    printf 'alive\t%s\n' "$alive"
    if [ "$(cat "$q/session" 2> /dev/null)" = slurm ]; then
      if [ -z "$sched_read" ]; then
        sched_read=1
        listing=$(rgt_slurm_queue 2>&1) || { sched_err=$listing; listing=""; }
      fi
      read_jobs "$q" "$listing" "$sched_err"
    fi
    for c in "$q"/cells/*/; do
      [ -d "$c" ] || continue
      c=${c%/}
      printf 'cell\t%s\n' "${c##*/}"
      for f in state exit_code started_at finished_at pid reason slurm_job_id restarts node; do
        if [ -f "$c/$f" ]; then printf 'value\t%s\t%s\n' "$f" "$(head -c 200 "$c/$f" | tr '\n\t' '  ')"; fi
      done
      p=$(cat "$c/pid" 2> /dev/null)
      if [ -n "$p" ] && kill -0 "$p" 2> /dev/null; then printf 'value\tpid_alive\t1\n'; else printf 'value\tpid_alive\t0\n'; fi
      if [ -f "$c/log" ]; then
        printf 'value\tlog_age\t%s\n' "$((now - $(stat -c %Y "$c/log")))"
        tail -n "$TAIL_LINES" "$c/log" | cut -c1-500 | sed "s/^/tail$T/"
        grep -a -m 1 -E 'Traceback \(most recent call last\)|CUDA out of memory|OutOfMemoryError|^Killed|iostream error|No space left on device|NCCL (error|WARN.*(failed|timeout))|Segmentation fault|core dumped' "$c/log" | cut -c1-300 | sed "s/^/crash$T/"
      fi
    done
  done
  echo end
}

read_jobs() {
  local q=$1 listing=$2 err=$3 cell id line
  if [ -n "$err" ]; then printf 'schederr\t%s\n' "$(printf '%s' "$err" | head -c 300 | tr '\n\t' '  ')"; fi
  while IFS=$'\t' read -r cell id; do
    printf 'job\t%s\t%s\n' "$cell" "$id"
    line=$(printf '%s\n' "$listing" | awk -F'|' -v id="$id" '$1 == id { print; exit }')
    if [ -n "$line" ]; then
      printf 'sched\t%s\n' "$line"
    elif [ -z "$err" ]; then
      rgt_ended "$(cat "$q/cells/$cell/state" 2> /dev/null)" || printf 'final\t%s\t%s\n' "$id" "$(rgt_slurm_final "$id")"
    fi
  done < <(rgt_slurm_ids "$q")
}

rgt_section queues read_queues
