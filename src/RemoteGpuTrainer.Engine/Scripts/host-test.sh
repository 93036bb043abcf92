#!/usr/bin/env bash
# Test-GpuHost's probe: read-only, every tool optional. Parsed by HostTestProbe.cs.
# Parameters: PYTHON (the host's interpreter, may be empty). Sections: os, nvidia-smi, python, tmux,
# uptime (seconds since boot, from /proc/uptime) (then disks.sh's).

probe_os() {
  if [ -r /etc/os-release ]; then
    # shellcheck disable=SC1091
    . /etc/os-release
    echo "${PRETTY_NAME:-$NAME}"
  else
    uname -s
  fi
  uname -r
}

probe_smi() {
  command -v nvidia-smi > /dev/null 2>&1 || { echo 'nvidia-smi: command not found'; exit "$RGT_EXIT_NO_COMMAND"; }
  rgt_timeout 20 nvidia-smi
}

probe_python() {
  local p
  for p in "$@"; do
    if command -v "$p" > /dev/null 2>&1; then
      "$p" -V 2>&1
      exit 0
    fi
  done
  exit "$RGT_EXIT_NO_COMMAND"
}

rgt_section os probe_os
rgt_section nvidia-smi probe_smi
if [ -n "$PYTHON" ]; then rgt_section python probe_python "$PYTHON" python3 python; else rgt_section python probe_python python3 python; fi
rgt_section tmux command -v tmux
rgt_section uptime cut -d ' ' -f1 /proc/uptime
