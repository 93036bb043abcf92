#!/usr/bin/env bash
# Start-GpuQueue on one host: freeze the queue, write a new versioned launcher, start it detached.
# Two launches of one queue at once (cron and a user) are serialised by a lock taken in this same
# round trip; a launcher that is alive (its lock is held) is never doubled.
# Parameters: Q (queue dir), SESSION (tmux session name), DETACH (Auto, Tmux, Nohup, Slurm), LAUNCHER
# (the launcher's text; under Slurm the batch job's), QUEUE_TEXT (frozen queue), ASSIGNED (cells this
# host owns, one per line). Slurm only: CELLS (the cells to submit, one per line, in the order of the
# job's groups), SBATCH (sbatch options, one per line), JOB_NAME, ARRAY (1: one job array).
# Section: start, one record: "STARTED<TAB>n<TAB>pid<TAB>session", "RUNNING<TAB>pid" or "NO_TMUX";
# under Slurm "RUNNING<TAB>ids", else "SUBMITTED<TAB>cell<TAB>id" per job (after "WARN<TAB>cell<TAB>text"
# when sbatch said something on stderr) and "SUBMIT_FAILED<TAB>text" or "DONE<TAB>n".
# uses: slurm

# write_launch PREFIX: writes the next numbered $Q/PREFIX-<n>.sh (never one that may be running), the
# frozen queue and the ownership list, clears the last run's end markers, and prints n.
write_launch() {
  local n=1
  while [ -e "$Q/$1-$n.sh" ]; do n=$((n + 1)); done
  rgt_put "$Q/$1-$n.sh" "$LAUNCHER" && rgt_put "$Q/queue.txt" "$QUEUE_TEXT" && rgt_put "$Q/assigned" "$ASSIGNED" || return 1
  rm -f "$Q/QUEUE_DONE" "$Q/QUEUE_FAILED" "$Q/launcher.pid"
  echo "$n"
}

start_queue() {
  local n L i
  command -v flock > /dev/null 2>&1 || { echo 'flock (util-linux) is not installed: refusing to launch without a lock'; exit "$RGT_EXIT_NO_TOOL"; }
  mkdir -p "$Q/cells" || exit "$RGT_EXIT_FAILED"
  exec 8> "$Q/.start.lock"
  flock -w 30 8 || { echo "another launch of this queue holds $Q/.start.lock"; exit "$RGT_EXIT_BUSY"; }
  if [ "$DETACH" = Slurm ]; then
    submit_jobs
    return
  fi
  if ! flock -n "$Q/.running" true; then
    printf 'RUNNING\t%s\n' "$(cat "$Q/launcher.pid" 2> /dev/null)"
    exit 0
  fi
  n=$(write_launch launcher) || exit "$RGT_EXIT_FAILED"
  L="$Q/launcher-$n.sh"
  if [ "$DETACH" != Nohup ] && command -v tmux > /dev/null 2>&1; then
    tmux kill-session -t "=$SESSION" 2> /dev/null
    tmux new-session -d -s "$SESSION" bash "$L" 8>&- || exit "$RGT_EXIT_FAILED"
    rgt_put "$Q/session" "tmux:$SESSION"
  elif [ "$DETACH" = Tmux ]; then
    echo NO_TMUX
    exit 0
  else
    setsid nohup bash "$L" < /dev/null >> "$Q/master.log" 2>&1 8>&- &
    rgt_put "$Q/session" nohup
  fi
  i=0
  while { flock -n "$Q/.running" true || [ ! -s "$Q/launcher.pid" ]; } && [ "$i" -lt 200 ]; do
    sleep 0.05
    i=$((i + 1))
  done
  printf 'STARTED\t%s\t%s\t%s\n' "$n" "$(cat "$Q/launcher.pid" 2> /dev/null)" "$(cat "$Q/session")"
}

# sbatch_id CELL ARGS...: sbatch --parsable ARGS. Only its stdout carries the job id, and only
# "<digits>" or "<digits>;<cluster>" is one: what it says on stderr (warnings, a site's plugins) is
# passed on as a WARN record, never taken for the id. ID := the job id; non-zero with OUT := why.
sbatch_id() {
  local cell=$1 err rc said re='^[0-9]+(;[^[:space:]]+)?$'
  shift
  err=$(mktemp) || {
    OUT='mktemp failed on the login node'
    return 1
  }
  OUT=$(sbatch --parsable "$@" 2> "$err")
  rc=$?
  said=$(tr '\n\t' '  ' < "$err")
  rm -f "$err"
  if [ "$rc" -ne 0 ]; then
    OUT="exit $rc: ${said}$(printf ' %s' "$OUT" | tr '\n\t' '  ')"
    return 1
  fi
  if ! [[ $OUT =~ $re ]]; then
    OUT="sbatch exited 0 but printed no job id on its output ('$(printf '%s' "$OUT" | tr '\n\t' '  ' | cut -c1-200)')${said:+; on stderr: $said}. A job may have been queued all the same: look for it with squeue --me -o '%i %j' (names $JOB_NAME…) and scancel it before submitting again"
    return 1
  fi
  [ -n "$said" ] && printf 'WARN\t%s\t%s\n' "$cell" "$said"
  ID=${OUT%%;*}
}

# Under Slurm each cell is a batch job (or the cells one array); the scheduler, not a launcher, runs
# them. Still under the start lock: a second submit sees the first's jobs in squeue and refuses.
submit_jobs() {
  local listing active n J k name id opts=() names=()
  command -v sbatch > /dev/null 2>&1 || { echo 'sbatch is not on the PATH here: this host is not a Slurm login node'; exit "$RGT_EXIT_NO_TOOL"; }
  listing=$(rgt_slurm_queue) || { echo 'squeue did not answer, so whether jobs of this queue are still queued is unknown; nothing was submitted'; exit "$RGT_EXIT_NO_ANSWER"; }
  active=$(rgt_slurm_active "$Q" "$listing")
  if [ -n "$active" ]; then
    printf 'RUNNING\t%s\n' "$(printf '%s\n' "$active" | tr '\n' ' ')"
    exit 0
  fi
  n=$(write_launch slurm-job) || exit "$RGT_EXIT_FAILED"
  J="$Q/slurm-job-$n.sh"
  rgt_put "$Q/session" slurm
  mkdir -p "$Q/out-$n" || exit "$RGT_EXIT_FAILED"
  if [ -n "$SBATCH" ]; then mapfile -t opts <<< "$SBATCH"; fi
  mapfile -t names <<< "$CELLS"
  # Slurm reads '%' in --output as a pattern: each job writes through a plain link to its cell's log.
  k=0
  for name in "${names[@]}"; do
    mkdir -p "$Q/cells/$name" || exit "$RGT_EXIT_FAILED"
    rm -f "$Q/cells/$name/exit_code" "$Q/cells/$name/finished_at" "$Q/cells/$name/reason" "$Q/cells/$name/started_at" \
      "$Q/cells/$name/pid" "$Q/cells/$name/slurm_job_id" "$Q/cells/$name/restarts" "$Q/cells/$name/node"
    rgt_put "$Q/cells/$name/state" Pending
    ln -sfn "../cells/$name/log" "$Q/out-$n/$k.log"
    k=$((k + 1))
  done
  if [ "$ARRAY" = 1 ]; then
    sbatch_id "(array)" --array="0-$((k - 1))" --job-name="$JOB_NAME" --output="$Q/out-$n/%a.log" --open-mode=append "${opts[@]}" "$J" \
      || { printf 'SUBMIT_FAILED\t%s\n' "$OUT"; exit 0; }
    id=$ID
    k=0
    for name in "${names[@]}"; do
      printf '%s\t%s_%s\n' "$name" "$id" "$k" >> "$Q/jobs"
      printf 'SUBMITTED\t%s\t%s_%s\n' "$name" "$id" "$k"
      k=$((k + 1))
    done
  else
    k=0
    for name in "${names[@]}"; do
      sbatch_id "$name" --job-name="$JOB_NAME.$name" --output="$Q/out-$n/$k.log" --open-mode=append "${opts[@]}" --export="ALL,RGT_GROUP=$k" "$J" \
        || { printf 'SUBMIT_FAILED\t%s: %s\n' "$name" "$OUT"; exit 0; }
      id=$ID
      printf '%s\t%s\n' "$name" "$id" >> "$Q/jobs"
      printf 'SUBMITTED\t%s\t%s\n' "$name" "$id"
      k=$((k + 1))
    done
  fi
  printf 'DONE\t%s\n' "$n"
}

rgt_section start start_queue
