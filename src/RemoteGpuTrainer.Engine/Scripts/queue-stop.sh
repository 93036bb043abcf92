#!/usr/bin/env bash
# Stop-GpuQueue on one host: mark running cells Failed (143), end the detach session recorded at
# launch and the launcher's process group. Under Slurm: scancel this queue's jobs, and only them.
# Parameters: Q (queue dir), MODE_STEP (stop, or left: what is still alive).
# Section: stop, "NOQUEUE" or "STOPPED"; section left, "LEFT" and what is left.
# uses: slurm


stop_queue() {
  local lp c session
  [ -d "$Q" ] || { echo NOQUEUE; exit 0; }
  if [ "$(cat "$Q/session" 2> /dev/null)" = slurm ]; then
    cancel_jobs
    return
  fi
  lp=$(cat "$Q/launcher.pid" 2> /dev/null)
  session=$(cat "$Q/session" 2> /dev/null)
  for c in "$Q"/cells/*/; do
    if [ "$(cat "$c/state" 2> /dev/null)" = Running ]; then
      rgt_put "$c/exit_code" 143
      rgt_put "$c/finished_at" "$(rgt_now)"
      rgt_put "$c/state" Failed
    fi
  done
  rgt_put "$Q/QUEUE_FAILED" "stopped by Stop-GpuQueue $(rgt_now)"
  if [ -n "$lp" ] && grep -qa launcher- "/proc/$lp/cmdline" 2> /dev/null; then
    kill -TERM -- "-$lp" 2> /dev/null || kill -TERM "$lp" 2> /dev/null
  fi
  case "$session" in tmux:*) command -v tmux > /dev/null 2>&1 && tmux kill-session -t "=${session#tmux:}" 2> /dev/null ;; esac
  sleep 2
  if [ -n "$lp" ]; then kill -KILL -- "-$lp" 2> /dev/null; fi
  echo STOPPED
}

# The queue's jobs still in the scheduler are cancelled by id, then waited for (up to 60 s) to
# leave it; their cells that had not ended are marked Cancelled.
cancel_jobs() {
  local listing active i cell id
  listing=$(rgt_slurm_queue) || { echo 'squeue did not answer: nothing was cancelled'; exit "$RGT_EXIT_NO_ANSWER"; }
  active=$(rgt_slurm_active "$Q" "$listing")
  if [ -n "$active" ]; then
    # shellcheck disable=SC2086 # job ids: digits and '_', one per word
    scancel $active || { echo "scancel failed for:" $active; exit "$RGT_EXIT_REFUSED"; }
  fi
  i=0
  while [ -n "$active" ] && [ -n "$(rgt_slurm_active "$Q" "$(rgt_slurm_queue)")" ] && [ "$i" -lt 60 ]; do
    sleep 1
    i=$((i + 1))
  done
  while IFS=$'\t' read -r cell id; do
    case " $(printf '%s\n' "$active" | tr '\n' ' ') " in *" $id "*) ;; *) continue ;; esac
    rgt_ended "$(cat "$Q/cells/$cell/state" 2> /dev/null)" && continue
    rgt_put "$Q/cells/$cell/finished_at" "$(rgt_now)"
    rgt_put "$Q/cells/$cell/reason" "job $id cancelled by Stop-GpuQueue"
    rgt_put "$Q/cells/$cell/state" Cancelled
  done < <(rgt_slurm_ids "$Q")
  rgt_put "$Q/QUEUE_FAILED" "stopped by Stop-GpuQueue $(rgt_now)"
  echo STOPPED
}

# What is still alive of the queue (a second connection asks, after the stop).
left_of_queue() {
  local lp p session left="" listing
  if [ "$(cat "$Q/session" 2> /dev/null)" = slurm ]; then
    listing=$(rgt_slurm_queue) || { echo 'squeue did not answer'; exit "$RGT_EXIT_NO_ANSWER"; }
    echo "LEFT $(rgt_slurm_active "$Q" "$listing" | tr '\n' ' ')"
    return
  fi
  lp=$(cat "$Q/launcher.pid" 2> /dev/null)
  session=$(cat "$Q/session" 2> /dev/null)
  if [ -n "$lp" ]; then
    for p in $(pgrep -g "$lp" 2> /dev/null); do
      case "$(ps -o stat= -p "$p" 2> /dev/null)" in Z* | "") ;; *) left="$left $p" ;; esac
    done
  fi
  case "$session" in tmux:*) command -v tmux > /dev/null 2>&1 && tmux has-session -t "=${session#tmux:}" 2> /dev/null && left="$left $session" ;; esac
  echo "LEFT$left"
}

if [ "${MODE_STEP:-stop}" = left ]; then rgt_section left left_of_queue; else rgt_section stop stop_queue; fi
