#!/usr/bin/env bash
# One queue cell's run, shared by the tmux/nohup launcher (queue-launcher.sh) and the Slurm batch
# job (slurm-job.sh). Parameters: Q (queue dir), DATA_DIR, DURABLE_DIR, QUEUE_ID, KEEP (artifact), SCRATCH, CRED,
# WORKDIR, PROXY_HOOK (the user's shell code, run before each cell). INTERRUPTED: set by a caller's
# TERM trap, so a cell ended from outside is Interrupted, not Failed.
# The closing log line is written before the final state, so a reader that sees the state has the line.
# Markers (cells/<name>/): state (Running, Succeeded, Failed, NoArtifact, SyncFailed, Interrupted),
# exit_code, started_at, finished_at, pid, reason; under Slurm also slurm_job_id, restarts, node. Each
# is written to a temporary name, then renamed.
# uses: rgt hash

# Copies the artifact and metrics to durable storage, each verified by SHA-256 before it takes its
# name (rgt_copy_verified, hash.sh). The trainer has exited, so the artifact is final: its hash is
# cached on the box for the original and the copy, and a pull right after needs no hashing at pull time.
rgt_sync() {
  local ck=$1 d=$2 dest=$3 f
  if [ -z "$DURABLE_DIR" ]; then
    rgt_sha256_cached "$ck/$KEEP" final > /dev/null
    echo "=== rgt: no durable directory configured; nothing synced" >> "$d/log"
    return 0
  fi
  mkdir -p "$dest" 2>> "$d/log" || return 1
  for f in "$ck/$KEEP" "$ck"/*metrics*.json; do
    [ -f "$f" ] || continue
    rgt_copy_verified "$f" "$dest" || {
      echo "=== rgt: $RGT_WHY" >> "$d/log"
      return 1
    }
  done
  cp -f "$d/log" "$dest/log" 2> /dev/null || true
  return 0
}

# Under tmux the pane shows the running cell's log, for Enter-GpuHost -Attach (display only).
show_log() {
  if [ -n "${TMUX:-}" ]; then
    tail -n +1 -F "$1" 2> /dev/null &
    viewer=$!
  fi
}

hide_log() {
  if [ -n "$viewer" ]; then
    sleep 0.2
    kill "$viewer" 2> /dev/null
    viewer=""
  fi
}

viewer=""
RGT_CPID=""

run_cell() {
  local name=$1 cmd=$2 force=$3 d ck cpid rc
  d="$Q/cells/$name"
  ck="$DATA_DIR/checkpoints/$QUEUE_ID/$name"
  mkdir -p "$d" "$ck"
  if [ "$force" = 0 ] && [ "$(cat "$d/state" 2> /dev/null)" = Succeeded ]; then return 0; fi
  rm -f "$d/exit_code" "$d/finished_at" "$d/reason"
  rgt_put "$d/started_at" "$(rgt_now)"
  rgt_put "$d/state" Running
  if [ -n "${SLURM_JOB_ID:-}" ]; then
    rgt_put "$d/slurm_job_id" "$SLURM_JOB_ID"
    rgt_put "$d/restarts" "${SLURM_RESTART_COUNT:-0}"
    rgt_put "$d/node" "${SLURMD_NODENAME:-}"
  fi
  echo "=== rgt: cell $name started $(rgt_now)" >> "$d/log"
  show_log "$d/log"
  # shellcheck disable=SC2094
  (
    if [ -n "$PROXY_HOOK" ]; then eval "$PROXY_HOOK"; fi
    # shellcheck disable=SC1091
    if [ -f "$DATA_DIR/.rgt/env.sh" ]; then . "$DATA_DIR/.rgt/env.sh"; fi
    if [ -n "$CRED" ] && [ -f "$CRED" ]; then
      WANDB_API_KEY=$(cat "$CRED")
      export WANDB_API_KEY
    fi
    export PYTHONUNBUFFERED=1 RGT_CHECKPOINT_DIR="$ck" RGT_CELL="$name" RGT_LOG="$d/log" RGT_QUEUE="$QUEUE_ID"
    # The resume contract: a cell whose checkpoint folder holds the resume artifact (its own earlier run's,
    # or one a recovery pushed there from the mirror) is told where it is.
    if [ -f "$ck/$SCRATCH" ]; then export RGT_RESUME_FROM="$ck/$SCRATCH"; else unset RGT_RESUME_FROM; fi
    cd "$WORKDIR" || exit "$RGT_EXIT_NO_WORKDIR"
    exec bash -c "$cmd"
  ) >> "$d/log" 2>&1 < /dev/null &
  cpid=$!
  RGT_CPID=$cpid
  rgt_put "$d/pid" "$cpid"
  wait "$cpid"
  rc=$?
  # A trapped signal (slurm-job.sh forwards USR1 and TERM) ends the wait, not the cell: wait again
  # while the cell's process is still there (running, or exited and not yet reaped).
  while [ "$rc" -gt 128 ] && kill -0 "$cpid" 2> /dev/null; do
    wait "$cpid"
    rc=$?
  done
  # shellcheck disable=SC2034 # read by the callers' signal traps
  RGT_CPID=""
  rgt_put "$d/exit_code" "$rc"
  rgt_put "$d/finished_at" "$(rgt_now)"
  if [ -n "${INTERRUPTED:-}" ]; then
    echo "=== rgt: cell $name interrupted by $INTERRUPTED (exit code $rc)" >> "$d/log"
    rgt_put "$d/state" Interrupted
    return 1
  fi
  if [ "$rc" -ne 0 ]; then
    echo "=== rgt: cell $name FAILED with exit code $rc" >> "$d/log"
    rgt_put "$d/state" Failed
    return 1
  fi
  # Exit 0 is not success without the artifact.
  if [ ! -s "$ck/$KEEP" ]; then
    rgt_put "$d/reason" "exited 0 but wrote no $KEEP in $ck"
    echo "=== rgt: cell $name NoArtifact: exited 0 but wrote no $KEEP" >> "$d/log"
    rgt_put "$d/state" NoArtifact
    return 1
  fi
  if [ -n "$SCRATCH" ]; then rm -f "$ck/$SCRATCH"; fi
  if rgt_sync "$ck" "$d" "$DURABLE_DIR/final_ckpts/$name"; then
    echo "=== rgt: cell $name Succeeded" >> "$d/log"
    rgt_put "$d/state" Succeeded
    return 0
  fi
  rgt_put "$d/reason" "the copy to $DURABLE_DIR/final_ckpts/$name did not verify"
  echo "=== rgt: cell $name SyncFailed: the copy to durable storage did not verify" >> "$d/log"
  rgt_put "$d/state" SyncFailed
  return 1
}

