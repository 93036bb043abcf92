#!/usr/bin/env bash
# The box's side of Start-GpuMonitor, Stop-GpuMonitor, Get-GpuMetric and of the patrol's forecasts.
# Parameters: MODE_STEP (start, stop, read or tail), DIR (the monitor's directory); for start SAMPLER
# (the sampler's text, monitor-sampler.sh with its parameters set); for read FILE and OFFSET (where
# the last read ended: a samples file's name, empty for none, and a byte offset in it); for tail
# SINCE and LINES.
# Section monitor:
#   start  "started<TAB>pid", or "running<TAB>pid" when a sampler already runs (nothing is started)
#   stop   "stopped<TAB>CPU ticks<TAB>ticks per second<TAB>seconds it ran", or "notrunning"
#   read   "file<TAB>name<TAB>from<TAB>bytes", then that file's new whole lines, for each file
#   tail   the lines of the newest two files from the last SINCE seconds (LINES at most)
# The sampler holds $DIR/.lock for its life: that lock, not a pid, says whether one runs.

running() { [ -f "$DIR/.lock" ] && ! flock -n "$DIR/.lock" true 2> /dev/null; }

sampler_pid() {
  local pid=""
  read -r pid _ < "$DIR/sampler.pid" 2> /dev/null
  printf '%s' "$pid"
}

# The sampler's process group (it is the leader of a session of its own).
group() { ps -e -o pid=,pgid= | awk -v g="$1" '$2 == g { print $1 }'; }

start() {
  local i old pid
  mkdir -p "$DIR" || {
    echo "cannot create $DIR"
    exit 3
  }
  if running; then
    printf 'running\t%s\n' "$(sampler_pid)"
    return 0
  fi
  printf '%s\n' "$SAMPLER" > "$DIR/sampler.sh.tmp" && mv -f "$DIR/sampler.sh.tmp" "$DIR/sampler.sh" || exit 1
  # The sampler writes its pid file once it holds the lock and wrote a line. Waiting for that file to
  # name a new pid, not probing the lock (a probe holds it for an instant), leaves the lock to it.
  old=$(sampler_pid)
  setsid nohup bash "$DIR/sampler.sh" < /dev/null > "$DIR/sampler.log" 2>&1 &
  for ((i = 0; i < 100; i++)); do
    pid=$(sampler_pid)
    [ -n "$pid" ] && [ "$pid" != "$old" ] && break
    sleep 0.1
  done
  if ! running; then
    echo "the sampler did not start: $(tail -n 5 "$DIR/sampler.log" 2> /dev/null)"
    exit 1
  fi
  printf 'started\t%s\n' "$(sampler_pid)"
}

stop() {
  local pid started ticks=0 hz t p i left
  if ! running; then
    rm -f "$DIR/sampler.pid"
    echo notrunning
    return 0
  fi
  [ -f "$DIR/sampler.pid" ] && read -r pid started < "$DIR/sampler.pid"
  # Only our sampler's group is signalled: its leader must be running sampler.sh.
  if [ -z "$pid" ] || ! tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null | grep -q "sampler.sh"; then
    echo "the sampler's pid file does not name a running sampler; nothing was signalled"
    exit 1
  fi
  hz=$(getconf CLK_TCK 2> /dev/null || echo 100)
  # CPU it used: utime, stime and its reaped children's (fields 14-17 of /proc/<pid>/stat).
  for p in $(group "$pid"); do
    t=$(awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$p/stat" 2> /dev/null)
    ticks=$((ticks + ${t:-0}))
  done
  kill -TERM -- "-$pid" 2> /dev/null
  for ((i = 0; i < 50; i++)); do
    [ -z "$(group "$pid")" ] && break
    sleep 0.1
  done
  [ -z "$(group "$pid")" ] || kill -KILL -- "-$pid" 2> /dev/null
  sleep 0.2
  left=$(group "$pid")
  if [ -n "$left" ] || running; then
    echo "processes of the sampler are still there: ${left:-the lock is held}"
    exit 1
  fi
  rm -f "$DIR/sampler.pid" "$DIR/gpu.now"
  printf 'stopped\t%s\t%s\t%s\n' "$ticks" "$hz" "$(($(date +%s) - ${started:-0}))"
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
