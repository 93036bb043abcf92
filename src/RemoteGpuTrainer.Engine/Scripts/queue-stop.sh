#!/usr/bin/env bash
# Stop-GpuQueue on one host: mark running cells Failed (143), end the detach session recorded at
# launch and the launcher's process group. Parameters: Q (queue dir).
# Section: stop, "NOQUEUE" or "STOPPED".


stop_queue() {
  local lp c session
  [ -d "$Q" ] || { echo NOQUEUE; exit 0; }
  lp=$(cat "$Q/launcher.pid" 2> /dev/null)
  session=$(cat "$Q/session" 2> /dev/null)
  for c in "$Q"/cells/*/; do
    if [ "$(cat "$c/state" 2> /dev/null)" = Running ]; then
      rgt_put "$c/exit_code" 143
      rgt_put "$c/finished_at" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
      rgt_put "$c/state" Failed
    fi
  done
  rgt_put "$Q/QUEUE_FAILED" "stopped by Stop-GpuQueue $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  if [ -n "$lp" ] && grep -qa launcher- "/proc/$lp/cmdline" 2> /dev/null; then
    kill -TERM -- "-$lp" 2> /dev/null || kill -TERM "$lp" 2> /dev/null
  fi
  case "$session" in tmux:*) command -v tmux > /dev/null 2>&1 && tmux kill-session -t "=${session#tmux:}" 2> /dev/null ;; esac
  sleep 2
  if [ -n "$lp" ]; then kill -KILL -- "-$lp" 2> /dev/null; fi
  echo STOPPED
}

# What is still alive of the queue (a second connection asks, after the stop).
left_of_queue() {
  local lp p session left=""
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

if [ "${MODE:-stop}" = left ]; then rgt_section left left_of_queue; else rgt_section stop stop_queue; fi
