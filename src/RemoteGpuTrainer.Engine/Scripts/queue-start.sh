#!/usr/bin/env bash
# Start-GpuQueue on one host: freeze the queue, write a new versioned launcher, start it detached.
# Two launches of one queue at once (cron and a user) are serialised by a lock taken in this same
# round trip; a launcher that is alive (its lock is held) is never doubled.
# Parameters: Q (queue dir), SESSION (tmux session name), DETACH (Auto, Tmux, Nohup), LAUNCHER (the
# launcher's text), QUEUE_TEXT (frozen queue), ASSIGNED (cells this host owns, one per line).
# Section: start, one record: "STARTED<TAB>n<TAB>pid<TAB>session", "RUNNING<TAB>pid" or "NO_TMUX".


start_queue() {
  local n L i
  command -v flock > /dev/null 2>&1 || { echo 'flock (util-linux) is not installed: refusing to launch without a lock'; exit 5; }
  mkdir -p "$Q/cells" || exit 1
  exec 8> "$Q/.start.lock"
  flock -w 30 8 || { echo "another launch of this queue holds $Q/.start.lock"; exit 6; }
  if ! flock -n "$Q/.running" true; then
    printf 'RUNNING\t%s\n' "$(cat "$Q/launcher.pid" 2> /dev/null)"
    exit 0
  fi
  n=1
  while [ -e "$Q/launcher-$n.sh" ]; do n=$((n + 1)); done
  L="$Q/launcher-$n.sh"
  rgt_put "$L" "$LAUNCHER" || exit 1
  rgt_put "$Q/queue.txt" "$QUEUE_TEXT" || exit 1
  rgt_put "$Q/assigned" "$ASSIGNED" || exit 1
  rm -f "$Q/QUEUE_DONE" "$Q/QUEUE_FAILED" "$Q/launcher.pid"
  if [ "$DETACH" != Nohup ] && command -v tmux > /dev/null 2>&1; then
    tmux kill-session -t "=$SESSION" 2> /dev/null
    tmux new-session -d -s "$SESSION" bash "$L" 8>&- || exit 1
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

rgt_section start start_queue
