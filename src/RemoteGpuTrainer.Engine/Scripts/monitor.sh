#!/usr/bin/env bash
# The box's side of Start-GpuMonitor, Stop-GpuMonitor, Get-GpuMetric and of the patrol's forecasts.
# Parameters: MODE_STEP (start, stop, read or tail), DIR (the monitor's directory); for start SAMPLER
# (the sampler's text, monitor-sampler.sh with its parameters set); for read FILE and OFFSET (where
# the last read ended: a samples file's name, empty for none, and a byte offset in it); for tail
# SINCE and LINES.
# Section monitor (start and stop: below):
#   read   "file<TAB>name<TAB>from<TAB>bytes", then that file's new whole lines, for each file
#   tail   the lines of the newest two files from the last SINCE seconds (LINES at most)
# A sampler runs when the process its pid file names ("pid started interval") is this directory's
# sampler.sh, began when the file says (a pid the kernel handed to another process since fails), and
# a sample is fresh. Nothing is ever signalled on a pid alone.
#   start  "STARTED<TAB>pid<TAB>what it replaced ("dead <pid>" or "stalled <pid>"; empty: nothing)",
#          or "RUNNING<TAB>pid" when a sampler already runs (nothing is started)
#   stop   "STOPPED<TAB>CPU ticks<TAB>ticks per second<TAB>seconds it ran", "DEAD<TAB>pid<TAB>leftover
#          processes ended" (it had died without stopping), or "NOT_RUNNING"

# PID, STARTED, EVERY := the pid file's fields; 0 when PID is this directory's sampler, started then.
is_sampler() {
  local cmd hz btime began
  PID="" STARTED="" EVERY=""
  read -r PID STARTED EVERY < "$DIR/sampler.pid" 2> /dev/null
  [[ $PID =~ ^[0-9]+$ && $STARTED =~ ^[0-9]+$ ]] || return 1
  cmd=$(tr '\0' '\n' < "/proc/$PID/cmdline" 2> /dev/null) || return 1
  [ "$cmd" = "bash"$'\n'"$DIR/sampler.sh" ] || return 1
  # When it began: /proc/<pid>/stat field 22 (clock ticks after boot) plus the boot time.
  hz=$(getconf CLK_TCK 2> /dev/null || echo 100)
  btime=$(awk '$1 == "btime" { print $2 }' /proc/stat)
  began=$(awk -v hz="$hz" -v bt="$btime" '{ sub(/^.*\) /, ""); printf "%d", bt + $20 / hz }' "/proc/$PID/stat" 2> /dev/null)
  [ -n "$began" ] && [ $((STARTED - began)) -le 5 ] && [ $((began - STARTED)) -le 5 ]
}

# Whether the newest sample file was written within three intervals (and ten seconds).
fresh() {
  local files=("$DIR"/samples-*.csv) at
  [ -f "${files[0]}" ] || return 1
  at=$(stat -c %Y "${files[${#files[@]} - 1]}") || return 1
  [ $(($(date +%s) - at)) -le $((3 * ${EVERY:-60} + 10)) ]
}

sampler_pid() {
  local pid=""
  read -r pid _ < "$DIR/sampler.pid" 2> /dev/null
  printf '%s' "$pid"
}

# The sampler's process group (it is the leader of a session of its own).
group() { ps -e -o pid=,pgid= | awk -v g="$1" '$2 == g { print $1 }'; }

# What a dead sampler left: processes of its session and group that run its sampler.sh (its
# subshells), its nvidia-smi feed or its tick's sleep. The kernel hands a pid out again only once no
# group or session of that id is left: a live process under the pid (not the sampler) means nothing of
# the sampler is left, and its own group is never touched. The command lines are checked too.
leftovers() {
  local p pg sid cmd
  # A zombie (dead, not yet reaped) still holds its pid: it counts as dead.
  if [ -e "/proc/$1" ] && [ "$(awk '{ sub(/^.*\) /, ""); print $1 }' "/proc/$1/stat" 2> /dev/null)" != Z ]; then return 0; fi
  while read -r p pg sid; do
    if [ "$pg" != "$1" ] || [ "$sid" != "$1" ]; then continue; fi
    cmd=$(tr '\0' ' ' < "/proc/$p/cmdline" 2> /dev/null) || continue
    case $cmd in
      "bash $DIR/sampler.sh " | "nvidia-smi --query-gpu=index,utilization.gpu,"* | "sleep "*) printf '%s\n' "$p" ;;
    esac
  done < <(ps -e -o pid=,pgid=,sid=)
}

# Ends a dead sampler's leftovers; prints how many there were.
end_leftovers() {
  local left
  mapfile -t left < <(leftovers "$1")
  [ "${#left[@]}" -gt 0 ] && kill -KILL "${left[@]}" 2> /dev/null
  rm -f "$DIR/sampler.pid" "$DIR/gpu.now"
  printf '%s' "${#left[@]}"
}

# Stops the live sampler PID (verified by is_sampler): TERM to its group, KILL what remains.
end_group() {
  local i
  kill -TERM -- "-$1" 2> /dev/null
  for ((i = 0; i < 50; i++)); do
    [ -z "$(group "$1")" ] && break
    sleep 0.1
  done
  [ -z "$(group "$1")" ] || kill -KILL -- "-$1" 2> /dev/null
  sleep 0.2
}

start() {
  local i old pid replaced=""
  mkdir -p "$DIR" || {
    echo "cannot create $DIR"
    exit "$RGT_EXIT_UNREADABLE"
  }
  if is_sampler; then
    if fresh; then
      printf 'RUNNING\t%s\n' "$PID"
      return 0
    fi
    # Alive but writing nothing any more: it is ours (checked above), so it is ended and replaced.
    end_group "$PID"
    replaced="stalled $PID"
  elif [ -n "$PID" ]; then
    end_leftovers "$PID" > /dev/null
    replaced="dead $PID"
  fi
  rm -f "$DIR/sampler.pid"
  rgt_put "$DIR/sampler.sh" "$SAMPLER" || exit "$RGT_EXIT_FAILED"
  # The sampler writes its pid file once it holds the lock and wrote a line.
  old=$(sampler_pid)
  setsid nohup bash "$DIR/sampler.sh" < /dev/null > "$DIR/sampler.log" 2>&1 &
  for ((i = 0; i < 100; i++)); do
    pid=$(sampler_pid)
    [ -n "$pid" ] && [ "$pid" != "$old" ] && break
    sleep 0.1
  done
  if ! is_sampler; then
    echo "the sampler did not start: $(tail -n 5 "$DIR/sampler.log" 2> /dev/null)"
    exit "$RGT_EXIT_FAILED"
  fi
  printf 'STARTED\t%s\t%s\n' "$PID" "$replaced"
}

stop() {
  local ticks=0 hz t p left
  if ! is_sampler; then
    if [ -n "$PID" ]; then
      printf 'DEAD\t%s\t%s\n' "$PID" "$(end_leftovers "$PID")"
    else
      rm -f "$DIR/sampler.pid"
      echo NOT_RUNNING
    fi
    return 0
  fi
  hz=$(getconf CLK_TCK 2> /dev/null || echo 100)
  # CPU it used: utime, stime and its reaped children's (fields 14-17 of /proc/<pid>/stat).
  for p in $(group "$PID"); do
    t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$p/stat" 2> /dev/null)
    ticks=$((ticks + ${t:-0}))
  done
  end_group "$PID"
  left=$(group "$PID")
  if [ -n "$left" ]; then
    echo "processes of the sampler are still there: $left"
    exit "$RGT_EXIT_FAILED"
  fi
  rm -f "$DIR/sampler.pid" "$DIR/gpu.now"
  printf 'STOPPED\t%s\t%s\t%s\n' "$ticks" "$hz" "$(($(date +%s) - STARTED))"
}

read_new() {
  local files f name from size data
  files=("$DIR"/samples-*.csv)
  [ -f "${files[0]}" ] || return 0
  for f in "${files[@]}"; do
    name=${f##*/}
    if [ -n "$FILE" ] && [[ $name < $FILE ]]; then continue; fi
    from=0
    [ "$name" = "$FILE" ] && from=$OFFSET
    size=$(stat -c %s "$f") || continue
    # Shorter than where the last read ended: truncated or replaced, so read again from the start.
    [ "$size" -lt "$from" ] && from=0
    data=$(tail -c +"$((from + 1))" "$f" && printf x)
    data=${data%x}
    # Whole lines only: one being written waits for the next read.
    data=${data%"${data##*$'\n'}"}
    printf 'file\t%s\t%s\t%s\n' "$name" "$from" "${#data}"
    printf '%s' "$data"
  done
}

tail_recent() {
  local files n
  files=("$DIR"/samples-*.csv)
  [ -f "${files[0]}" ] || return 0
  n=${#files[@]}
  if [ "$n" -ge 2 ]; then cat "${files[n - 2]}" "${files[n - 1]}"; else cat "${files[0]}"; fi |
    awk -F, -v from="$(($(date +%s) - SINCE))" '$2 >= from' | tail -n "$LINES"
}

case $MODE_STEP in
  start) rgt_section monitor start ;;
  stop) rgt_section monitor stop ;;
  read) rgt_section monitor read_new ;;
  *) rgt_section monitor tail_recent ;;
esac
