#!/usr/bin/env bash
# One queue cell as a Slurm batch job, written by queue-start.sh as slurm-job-<n>.sh and handed to
# sbatch (which keeps its own copy). queue-cell.sh, put before this file, runs the cell: the same
# markers, env file, RGT_CHECKPOINT_DIR, prune and verified sync as under tmux.
# $@: the cells of this submission, as groups of INDEX NAME COMMAND FORCE; the job runs group
# SLURM_ARRAY_TASK_ID of an array, else group RGT_GROUP (both 0-based).
# standalone: written to a file of its own; the user's commands inherit its environment
# uses: queue-cell
set -u

# Slurm's early warning (--signal=B:USR1@lead) goes to this batch shell: the trainer gets it, to
# checkpoint. TERM (scancel, scontrol requeue, the walltime) goes to the trainer too, and the cell
# ends Interrupted; a requeued job runs this script again from the top.
# shellcheck disable=SC2034 # read by run_cell (queue-cell.sh)
INTERRUPTED=""
trap 'if [ -n "$RGT_CPID" ]; then kill -USR1 "$RGT_CPID" 2> /dev/null; fi' USR1
trap 'INTERRUPTED=TERM; if [ -n "$RGT_CPID" ]; then kill -TERM "$RGT_CPID" 2> /dev/null; fi' TERM

group=${SLURM_ARRAY_TASK_ID:-${RGT_GROUP:-}}
case "$group" in
  '' | *[!0-9]*)
    echo "=== rgt: this job was not told which cell to run (SLURM_ARRAY_TASK_ID or RGT_GROUP)" >&2
    exit "$RGT_EXIT_UNCONFIGURED"
    ;;
esac
shift $((group * 4)) 2> /dev/null || set --
if [ $# -lt 4 ]; then
  echo "=== rgt: there is no cell $group in this submission" >&2
  exit "$RGT_EXIT_UNCONFIGURED"
fi
run_cell "$2" "$3" "$4"
