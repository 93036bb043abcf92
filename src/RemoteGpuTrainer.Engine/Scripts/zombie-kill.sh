#!/usr/bin/env bash
# Stop-GpuZombie's kill: each PID is re-checked on the box just before SIGKILL.
# Parameters: MIN_AGE (seconds); $@: groups of "PID LSTART N FILE1 .. FILEN" (start time as ps
# printed it, the device files it held).
# Section: kill, one line "<pid><TAB><verdict>" per PID: killed, gone, recycled, visible, young,
# released, killfailed, or appsunknown when nvidia-smi cannot list its compute apps (then nothing
# is killed: an empty list would make every live trainer look like a zombie).

kill_all() {
  local apps pid want n fds held f age i
  if ! apps=$(rgt_timeout 30 nvidia-smi --query-compute-apps=pid --format=csv,noheader,nounits 2>&1) ||
    printf '%s\n' "$apps" | grep -qv -E '^[[:space:]]*([0-9]+)?[[:space:]]*$'; then
    while [ $# -gt 0 ]; do
      printf '%s\tappsunknown\n' "$1"
      n=$3
      shift $((3 + n))
    done
    exit 0
  fi
  while [ $# -gt 0 ]; do
    pid=$1 want=$2 n=$3
    shift 3
    local -a files=("${@:1:n}")
    shift "$n"
    if [ ! -d "/proc/$pid" ]; then printf '%s\tgone\n' "$pid"; continue; fi
    case "$(ps -o stat= -p "$pid" 2> /dev/null)" in Z*) printf '%s\tgone\n' "$pid"; continue ;; esac
    if [ "$(ps -o lstart= -p "$pid" 2> /dev/null | tr -s ' ' | sed 's/^ //; s/ $//')" != "$want" ]; then
      printf '%s\trecycled\n' "$pid"; continue
    fi
    if printf '%s\n' "$apps" | grep -qx "[[:space:]]*${pid}[[:space:]]*"; then printf '%s\tvisible\n' "$pid"; continue; fi
    age=$(ps -o etimes= -p "$pid" 2> /dev/null | tr -d ' ')
    if [ "${age:-0}" -lt "$MIN_AGE" ]; then printf '%s\tyoung\n' "$pid"; continue; fi
    fds=$(ls -l "/proc/$pid/fd" 2> /dev/null)
    held=no
    for f in "${files[@]}"; do
      case "$fds" in *" -> $f"*) held=yes ;; esac
    done
    if [ "$held" = no ]; then printf '%s\treleased\n' "$pid"; continue; fi
    if kill -9 "$pid" 2> /dev/null; then
      for i in 1 2 3 4 5 6 7 8 9 10; do
        if [ ! -d "/proc/$pid" ]; then break; fi
        case "$(ps -o stat= -p "$pid" 2> /dev/null)" in Z*) break ;; esac
        sleep 0.1
      done
      printf '%s\tkilled\t%s\n' "$pid" "$i"
    else
      printf '%s\tkillfailed\n' "$pid"
    fi
  done
}

rgt_section kill kill_all "$@"
