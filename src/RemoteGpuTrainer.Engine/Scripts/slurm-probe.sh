#!/usr/bin/env bash
# Get-GpuHealth -Node/-Partition on a Slurm login node: the GPU probe (PROBE, a whole box script) runs
# on a compute node as a one-task job step holding one GPU, bounded twice: srun gives up when the
# cluster cannot start it within WAIT seconds (--immediate), and the step has a 5-minute limit.
# Parameters: PROBE, NODE (empty: any), PARTITION (empty: the default), WAIT.
# Sections: probe-node (SLURMD_NODENAME of the step), then the probe's own sections; srun, srun's
# own errors and status (1 with "Immediate execution impossible" etc. when it did not start).

probe_on_node() {
  local args=(-N1 -n1 --gres=gpu:1 --time=5 --immediate="$WAIT" --job-name=rgt-health)
  if [ -n "$NODE" ]; then args+=(--nodelist="$NODE"); fi
  if [ -n "$PARTITION" ]; then args+=(--partition="$PARTITION"); fi
  # shellcheck disable=SC2016 # expanded by the step's bash, on the compute node
  srun "${args[@]}" bash -c 'printf "@@RGT probe-node\n|%s\n@@RGT probe-node rc=0\n" "${SLURMD_NODENAME:-?}"; exec bash -c "$1" rgt-probe' rgt-step "$PROBE" 2> "$ERR"
}

ERR=$(mktemp)
probe_on_node
rc=$?
printf '@@RGT srun\n'
rgt_frame < "$ERR"
printf '\n@@RGT srun rc=%s\n' "$rc"
rm -f "$ERR"
