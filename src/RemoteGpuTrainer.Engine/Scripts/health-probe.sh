#!/usr/bin/env bash
# Get-GpuHealth's probe: read-only, one round trip; judged locally by HealthProbe.cs.
# Parameters: SAMPLES (nvidia-smi reads, one second apart), QUERY (the --query-gpu fields);
# $@: the device files to scan for VRAM holders (none given: the NVIDIA device nodes).
# Sections: devices, gpu-1..gpu-SAMPLES, apps, klog, holders, ps, cgroup (then disks.sh's).

if [ $# -eq 0 ]; then set -- /dev/nvidia[0-9]* /dev/nvidiactl /dev/nvidia-uvm; fi
for f in "$@"; do
  shift
  if [ -e "$f" ]; then set -- "$@" "$f"; fi
done

probe_devices() { if [ $# -gt 0 ]; then printf '%s\n' "$@"; fi; }

probe_gpu() {
  command -v nvidia-smi > /dev/null 2>&1 || { echo 'nvidia-smi: command not found'; exit "$RGT_EXIT_NO_COMMAND"; }
  rgt_timeout 30 nvidia-smi --query-gpu="$QUERY" --format=csv,nounits
}

# Exit status is nvidia-smi's: a failed or timed-out listing must never read as "no apps".
probe_apps() {
  command -v nvidia-smi > /dev/null 2>&1 || { echo 'nvidia-smi: command not found'; exit "$RGT_EXIT_NO_COMMAND"; }
  rgt_timeout 30 nvidia-smi --query-compute-apps=pid,process_name,gpu_uuid,used_memory --format=csv,noheader,nounits
}

probe_klog() {
  local out jout
  if out=$(rgt_timeout 30 dmesg 2>&1); then
    printf '%s\n' "$out" | grep -a 'NVRM: Xid' | tail -n 500
    exit 0
  fi
  if command -v journalctl > /dev/null 2>&1 && jout=$(rgt_timeout 30 journalctl -k -b -q --no-pager 2>&1); then
    printf '%s\n' "$jout" | grep -a 'NVRM: Xid' | tail -n 500
    exit 0
  fi
  printf '%s\n' "$out" | head -n 3
  exit "$RGT_EXIT_UNREADABLE"
}

# First line names the tool whose output follows (fuser, lsof, proc) or "none".
probe_holders() {
  if [ $# -eq 0 ]; then
    echo none
  elif command -v fuser > /dev/null 2>&1; then
    echo fuser
    fuser -v "$@" 2>&1
  elif command -v lsof > /dev/null 2>&1; then
    echo lsof
    lsof -w -F pn -- "$@" 2> /dev/null
  else
    echo proc
    ls -l /proc/[0-9]*/fd 2> /dev/null
  fi
  exit 0
}

probe_ps() { ps -eo pid=,etimes=,user:32=,lstart=,args= | cut -c1-400; }

probe_cgroup() {
  local c=${RGT_CGROUP_ROOT:-/sys/fs/cgroup} f
  if [ -f "$c/memory.max" ]; then
    echo v2
    for f in memory.max memory.current memory.events; do echo "#$f"; cat "$c/$f"; done
  elif [ -f "$c/memory/memory.limit_in_bytes" ]; then
    echo v1
    for f in memory.limit_in_bytes memory.usage_in_bytes memory.oom_control; do echo "#$f"; cat "$c/memory/$f"; done
  else
    echo none
  fi
}

rgt_section devices probe_devices "$@"
i=1
while [ "$i" -le "$SAMPLES" ]; do
  if [ "$i" -gt 1 ]; then sleep 1; fi
  rgt_section "gpu-$i" probe_gpu
  i=$((i + 1))
done
rgt_section apps probe_apps
rgt_section klog probe_klog
rgt_section holders probe_holders "$@"
rgt_section ps probe_ps
rgt_section cgroup probe_cgroup
