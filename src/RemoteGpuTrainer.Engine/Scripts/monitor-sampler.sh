#!/usr/bin/env bash
# The sampler of Start-GpuMonitor: written to $DIR/sampler.sh by monitor.sh and run detached in a
# session of its own. Every INTERVAL seconds it appends one line to the newest $DIR/samples-*.csv.
# It only reads (/proc, the cgroup files, ps, stat -f, nvidia-smi) and never signals a process.
# Parameters: DIR, DATA_DIR (the host's data directory: queues and free space), QUEUE_ID (follow only this
# queue's cells; empty: every queue), INTERVAL (seconds),
# MAX_BYTES (a file this large is closed and a new one begun), KEEP (files kept; older ones go).
#
# One line per tick, comma-separated:
#   v1,<unix time>,<cgroup: v1, v2 or none>,<memory used bytes: the working set, usage less inactive
#   page cache>,<memory limit bytes, empty: none>,
#   <OOM kills, empty: unknown>,<CPU % of the machine>,<load 1 min>,<data free bytes>,<data free inodes>,
#   <cells>,<gpus>
# cells: "<queue>/<cell>=<RSS bytes of the cell's process tree>" for each running cell, joined by ";"
# gpus: "<index>:<util %>:<memory used MiB>:<memory total MiB>:<power W>:<temperature C>:<SM MHz>"
#   joined by ";"; "none" where the box has no nvidia-smi, "error" when it gave no fresh reading.
# The memory is that of the cgroup the training runs in (a running cell's, else this sampler's own,
# which on a container is the container's): the ancestor with the lowest limit, where the kernel's
# OOM killer would strike; where no cgroup sets a limit, the limit is the machine's RAM.
# standalone
# uses: rgt
set -u
# The lock keeps a second sampler from starting. Only this process holds it: every child is started
# with 9>&-, so one left behind (the sampler killed with -9, by the OOM killer it watches) never holds
# it. Whether a sampler runs is judged by the pid file's process identity and a fresh sample.
exec 9> "$DIR/.lock"
flock -n 9 || {
  echo "$DIR/.lock is held by another process; a sampler may run already"
  exit "$RGT_EXIT_FAILED"
}
printf -v started '%(%s)T' -1
trap 'rm -f "$DIR/sampler.pid"; exit 0' TERM INT

# The GPU readings come from one long-running nvidia-smi (one NVML start-up instead of one per
# tick); each complete round of GPUs replaces $DIR/gpu.now as "<unix time> <round>". A tick costs
# few processes: the rest is bash builtins reading /proc and the cgroup files.
gpu_feed() {
  local line round="" i u mu mt p t sm
  nvidia-smi --query-gpu=index,utilization.gpu,memory.used,memory.total,power.draw,temperature.gpu,clocks.sm \
    --format=csv,noheader,nounits -l "$INTERVAL" 2> /dev/null | while IFS= read -r line; do
    # The sampler ($$ in a subshell) is gone: stop reading, and nvidia-smi ends on its next write.
    kill -0 "$$" 2> /dev/null || break
    line=${line//\[N\/A\]/}
    line=${line//N\/A/}
    IFS=', ' read -r i u mu mt p t sm <<< "$line"
    if [ "$i" = 0 ] && [ -n "$round" ]; then
      printf '%(%s)T %s\n' -1 "$round" > "$DIR/gpu.now.tmp" && mv -f "$DIR/gpu.now.tmp" "$DIR/gpu.now"
      round=""
    fi
    round="${round:+$round;}$i:$u:$mu:$mt:$p:$t:$sm"
  done
}

feed=""
start_feed() {
  if command -v nvidia-smi > /dev/null 2>&1; then
    gpu_feed 9>&- &
    feed=$!
  fi
}

# REPLY := the value of the "KEY value" line of FILE (memory.events, /proc/meminfo); 1 when absent.
field() {
  local k v
  REPLY=""
  while read -r k v _; do
    if [ "$k" = "$2" ]; then
      REPLY=$v
      return 0
    fi
  done < "$1"
  return 1
}

ram() {
  field /proc/meminfo MemTotal:
  REPLY=$((REPLY * 1024))
}

# CG_PATH := the cgroup of process $1 in the v1 memory hierarchy (CG_KIND=v1) or in the v2 one (v2).
cgroup_path() {
  local id ctrls path v2=""
  CG_PATH="" CG_KIND=""
  while IFS=: read -r id ctrls path; do
    case ",$ctrls," in *,memory,*)
      CG_PATH=$path CG_KIND=v1
      return
      ;;
    esac
    [ "$id" = 0 ] && [ -z "$ctrls" ] && v2=$path
  done < "/proc/$1/cgroup"
  [ -n "$v2" ] && CG_PATH=$v2 CG_KIND=v2
}

# Sets CG_VER, CG_USED, CG_LIMIT and CG_OOM for the cgroup of process $1.
memory_of() {
  local base dir d v best="" bdir="" usage limit events inactive key
  CG_VER=none CG_USED="" CG_LIMIT="" CG_OOM=""
  cgroup_path "$1" 2> /dev/null
  if [ "$CG_KIND" = v1 ] && [ -f /sys/fs/cgroup/memory/memory.usage_in_bytes ]; then
    base=/sys/fs/cgroup/memory usage=memory.usage_in_bytes limit=memory.limit_in_bytes events=memory.oom_control inactive=total_inactive_file
  elif [ -n "$CG_PATH" ] && [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    base=/sys/fs/cgroup usage=memory.current limit=memory.max events=memory.events inactive=inactive_file
    CG_PATH=${CG_PATH%/}
  fi
  if [ -n "${base:-}" ]; then
    dir=$base$CG_PATH
    [ -f "$dir/$usage" ] || dir=$base
    d=$dir
    while [ -f "$d/$usage" ]; do
      v=""
      read -r v < "$d/$limit" 2> /dev/null
      # "max" (v2) or 2^62 and above (v1) means no limit.
      if [ -n "$v" ] && [ "$v" != max ] && [ "${#v}" -le 18 ] && { [ -z "$best" ] || [ "$v" -lt "$best" ]; }; then best=$v bdir=$d; fi
      [ "$d" = "$base" ] && break
      d=${d%/*}
    done
    if [ -f "${bdir:-$dir}/$usage" ]; then
      CG_VER=${CG_KIND:-v2}
      read -r CG_USED < "${bdir:-$dir}/$usage"
      # The working set: page cache the kernel can drop before it OOM-kills is not counted (a
      # trainer streaming a dataset fills the cache up to the limit and is in no danger).
      if field "${bdir:-$dir}/memory.stat" "$inactive" 2> /dev/null && [ "$REPLY" -le "$CG_USED" ]; then CG_USED=$((CG_USED - REPLY)); fi
      if [ -n "$best" ]; then CG_LIMIT=$best; else ram && CG_LIMIT=$REPLY; fi
      key=oom_kill
      field "${bdir:-$dir}/$events" "$key" 2> /dev/null && CG_OOM=$REPLY
      return
    fi
  fi
  # No memory cgroup to read: the machine's RAM.
  ram && CG_LIMIT=$REPLY
  field /proc/meminfo MemAvailable: && CG_USED=$((CG_LIMIT - REPLY * 1024))
}

prev_total=0 prev_idle=0
cpu_percent() {
  local _c u n s i w q sq st total idle dt
  read -r _c u n s i w q sq st _ < /proc/stat
  total=$((u + n + s + i + w + q + sq + st)) idle=$((i + w))
  dt=$((total - prev_total))
  if [ "$prev_total" -gt 0 ] && [ "$dt" -gt 0 ]; then
    CPU=$((1000 * (dt - (idle - prev_idle)) / dt))
    CPU="$((CPU / 10)).$((CPU % 10))"
  else
    CPU=""
  fi
  prev_total=$total prev_idle=$idle
}

# CELLS := the running cells as "<queue>/<cell><TAB><pid>" lines.
running_cells() {
  local queues=("$DATA_DIR"/.rgt/queues/*) q s c p
  [ -n "$QUEUE_ID" ] && queues=("$DATA_DIR/.rgt/queues/$QUEUE_ID")
  CELLS=""
  for q in "${queues[@]}"; do
    for s in "$q"/cells/*/state; do
      [ -f "$s" ] || continue
      read -r p < "$s" 2> /dev/null || continue
      [ "$p" = Running ] || continue
      c=${s%/state}
      p=""
      read -r p < "$c/pid" 2> /dev/null
      [ -n "$p" ] && CELLS+="${CELLS:+$'\n'}${q##*/}/${c##*/}"$'\t'"$p"
    done
  done
}

# The newest samples file, or empty (names sort by time).
newest() {
  local files=("$DIR"/samples-*.csv)
  [ -f "${files[0]}" ] && printf '%s\n' "${files[${#files[@]} - 1]}"
}

next_file() {
  local files i
  current="$DIR/samples-$(date -u +%Y%m%dT%H%M%SZ).csv"
  : >> "$current"
  size=0
  files=("$DIR"/samples-*.csv)
  for ((i = 0; i < ${#files[@]} - KEEP; i++)); do rm -f "${files[i]}"; done
}

current=$(newest)
if [ -n "$current" ]; then size=$(stat -c %s "$current"); else next_file; fi
start_feed
printf -v last_feed_start '%(%s)T' -1
cpu_percent
while :; do
  printf -v now '%(%s)T' -1
  running_cells
  cells=$CELLS
  pid=$$
  if [ -n "$cells" ]; then pid=${cells%%$'\n'*} pid=${pid##*$'\t'}; fi
  [ -d "/proc/$pid" ] || pid=$$
  memory_of "$pid"
  cpu_percent
  read -r load _ < /proc/loadavg
  read -r avail bsize ifree < <(stat -f -c '%a %S %d' "$DATA_DIR" 2> /dev/null || echo '- - -')
  if [ "$avail" = - ]; then dfree="" ifree=""; else dfree=$((avail * bsize)); fi
  rss=""
  if [ -n "$cells" ]; then
    rss=$(ps -e -o pid=,ppid=,rss= | CELLS=$cells awk '
      BEGIN { n = split(ENVIRON["CELLS"], l, "\n"); for (k = 1; k <= n; k++) { split(l[k], f, "\t"); root[k] = f[2]; name[k] = f[1] } }
      { parent[$1] = $2; mem[$1] = $3 * 1024 }
      END {
        out = ""
        for (k = 1; k <= n; k++) {
          total = 0
          for (p in mem) { q = p; while (q != "" && q != 0 && q != 1) { if (q == root[k]) { total += mem[p]; break } q = parent[q] } }
          nm = name[k]; gsub(/[;=,]/, "_", nm)
          out = out (out == "" ? "" : ";") nm "=" sprintf("%.0f", total)
        }
        print out
      }')
  fi
  if [ -z "$feed" ]; then
    gpus=none
  else
    gpus=error
    at=0 round=""
    [ -f "$DIR/gpu.now" ] && read -r at round < "$DIR/gpu.now"
    if [ -n "$round" ] && [ $((now - at)) -le $((3 * INTERVAL + 2)) ]; then gpus=$round; fi
    # A feed that died (a driver reset) is started again, at most once a minute.
    if ! kill -0 "$feed" 2> /dev/null && [ $((now - last_feed_start)) -ge 60 ]; then
      start_feed
      last_feed_start=$now
    fi
  fi
  printf -v line 'v1,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "$now" "$CG_VER" "$CG_USED" "$CG_LIMIT" "$CG_OOM" "$CPU" "$load" "$dfree" "$ifree" "$rss" "$gpus"
  printf '%s' "$line" >> "$current"
  size=$((size + ${#line}))
  # The pid file appears once the first line is written: a start that returns has a sample to read.
  if [ -n "$started" ]; then
    printf '%s %s %s\n' "$$" "$started" "$INTERVAL" > "$DIR/sampler.pid.tmp" && mv -f "$DIR/sampler.pid.tmp" "$DIR/sampler.pid"
    started=""
  fi
  if [ "$size" -ge "$MAX_BYTES" ]; then
    sleep 1
    next_file
  fi
  sleep "$INTERVAL" 9>&- &
  wait $!
done
