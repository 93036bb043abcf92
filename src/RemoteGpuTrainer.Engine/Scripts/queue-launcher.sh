#!/usr/bin/env bash
# RemoteGpuTrainer queue launcher (behaviour.md §3), written by queue-start.sh as launcher-<n>.sh.
# Never edited in place: each launch writes a new numbered file. It runs the cells in order, each with its own log and markers.
# Parameters: Q (queue dir), DATA, DURABLE, QID, KEEP (artifact), SCRATCH, CRED, WORKDIR, PROXY_HOOK
# (the user's shell code, run before each cell); $@: the cells, as groups of INDEX NAME COMMAND FORCE.
# Markers (cells/<name>/): state (Running, Succeeded, Failed, NoArtifact, SyncFailed), exit_code,
# started_at, finished_at, pid, reason; each written to a temporary name, then renamed.
set -u

# The lock is held for the launcher's life and by its cells: a second launcher of this queue exits.
# (It waits a little: queue-start.sh tests the lock while it waits for this launcher to take it.)
exec 9> "$Q/.running"
if ! flock -w 10 9; then
  echo "=== rgt: another launcher of queue $QID holds its lock; this one exits" >> "$Q/master.log"
  exit 75
fi

put() { printf '%s\n' "$2" > "$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"; }
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
put "$Q/launcher.pid" "$$"

# Copies the artifact and metrics to durable storage, each verified by SHA-256 before it takes its
# name. The trainer has exited, so the artifact is final: its hash (hash.sh) is cached on the box for
# the original and the copy, and a pull right after needs no hashing at pull time.
rgt_sync() {
  local ck=$1 d=$2 dest=$3 f b h
  if [ -z "$DURABLE" ]; then
    rgt_sha256_cached "$ck/$KEEP" final > /dev/null
    echo "=== rgt: no durable directory configured; nothing synced" >> "$d/log"
    return 0
  fi
  mkdir -p "$dest" 2>> "$d/log" || return 1
  for f in "$ck/$KEEP" "$ck"/*metrics*.json; do
    [ -f "$f" ] || continue
    b=${f##*/}
    h=$(rgt_sha256_cached "$f" final) || return 1
    if ! cp -f "$f" "$dest/.$b.rgt-tmp" 2>> "$d/log"; then rm -f "$dest/.$b.rgt-tmp"; return 1; fi
    if [ "$(rgt_sha256 "$dest/.$b.rgt-tmp")" != "$h" ]; then
      echo "=== rgt: the copy of $b in $dest differs from the original (SHA-256)" >> "$d/log"
      rm -f "$dest/.$b.rgt-tmp"
      return 1
    fi
    mv -f "$dest/.$b.rgt-tmp" "$dest/$b" || return 1
    rgt_sha256_remember "$dest/$b" "$h"
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

run_cell() {
  local name=$1 cmd=$2 force=$3 d ck cpid rc
  d="$Q/cells/$name"
  ck="$DATA/checkpoints/$QID/$name"
  mkdir -p "$d" "$ck"
  if [ "$force" = 0 ] && [ "$(cat "$d/state" 2> /dev/null)" = Succeeded ]; then return 0; fi
  rm -f "$d/exit_code" "$d/finished_at" "$d/reason"
  put "$d/started_at" "$(now)"
  put "$d/state" Running
  echo "=== rgt: cell $name started $(now)" >> "$d/log"
  show_log "$d/log"
  # shellcheck disable=SC2094
  (
    if [ -n "$PROXY_HOOK" ]; then eval "$PROXY_HOOK"; fi
    # shellcheck disable=SC1091
    if [ -f "$DATA/.rgt/env.sh" ]; then . "$DATA/.rgt/env.sh"; fi
    if [ -n "$CRED" ] && [ -f "$CRED" ]; then
      WANDB_API_KEY=$(cat "$CRED")
      export WANDB_API_KEY
    fi
    export PYTHONUNBUFFERED=1 RGT_CHECKPOINT_DIR="$ck" RGT_CELL="$name" RGT_LOG="$d/log" RGT_QUEUE="$QID"
    cd "$WORKDIR" || exit 97
    exec bash -c "$cmd"
  ) >> "$d/log" 2>&1 < /dev/null &
  cpid=$!
  put "$d/pid" "$cpid"
  wait "$cpid"
  rc=$?
  put "$d/exit_code" "$rc"
  put "$d/finished_at" "$(now)"
  if [ "$rc" -ne 0 ]; then
    put "$d/state" Failed
    echo "=== rgt: cell $name FAILED with exit code $rc" >> "$d/log"
    return 1
  fi
  # Exit 0 is not success without the artifact (behaviour.md §0.1).
  if [ ! -s "$ck/$KEEP" ]; then
    put "$d/reason" "exited 0 but wrote no $KEEP in $ck"
    put "$d/state" NoArtifact
    echo "=== rgt: cell $name NoArtifact: exited 0 but wrote no $KEEP" >> "$d/log"
    return 1
  fi
  if [ -n "$SCRATCH" ]; then rm -f "$ck/$SCRATCH"; fi
  if rgt_sync "$ck" "$d" "$DURABLE/final_ckpts/$name"; then
    put "$d/state" Succeeded
    echo "=== rgt: cell $name Succeeded" >> "$d/log"
    return 0
  fi
  put "$d/reason" "the copy to $DURABLE/final_ckpts/$name did not verify"
  put "$d/state" SyncFailed
  echo "=== rgt: cell $name SyncFailed: the copy to durable storage did not verify" >> "$d/log"
  return 1
}

failed=""
while [ $# -ge 4 ]; do
  run_cell "$2" "$3" "$4" || failed="$failed $1:$2"
  hide_log
  shift 4
done
if [ -z "$failed" ]; then
  put "$Q/QUEUE_DONE" "$(now)"
  rm -f "$Q/QUEUE_FAILED"
  exit 0
fi
put "$Q/QUEUE_FAILED" "failed cells:$failed"
exit 1
