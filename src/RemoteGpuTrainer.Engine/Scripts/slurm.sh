#!/usr/bin/env bash
# Slurm helpers for a queue whose session is "slurm" (queue-start.sh submitted its cells with sbatch).
# $Q/jobs holds one "<cell><TAB><job id>" line per submission, newest last; an array task's id is
# "<array job id>_<task>", as squeue -r prints it.

# rgt_slurm_ids QUEUE_DIR: the newest job id of each cell, "<cell><TAB><id>" lines.
rgt_slurm_ids() {
  [ -f "$1/jobs" ] || return 0
  awk -F'\t' 'NF >= 2 { if (!($1 in id)) order[++n] = $1; id[$1] = $2 } END { for (i = 1; i <= n; i++) print order[i] "\t" id[order[i]] }' "$1/jobs"
}

# rgt_slurm_queue: this user's jobs that the scheduler still holds, one line per job or array task:
# "id|state|elapsed|reason|nodes|submitted (epoch seconds)". Non-zero when squeue did not answer.
rgt_slurm_queue() { rgt_timeout 30 env SLURM_TIME_FORMAT=%s squeue -h -r -u "$(id -un)" -o '%i|%T|%M|%R|%N|%V'; }

# rgt_slurm_active QUEUE_DIR LISTING: the ids of the queue's jobs that LISTING (rgt_slurm_queue) holds.
rgt_slurm_active() {
  rgt_slurm_ids "$1" | awk -F'\t' 'FNR == NR { split($0, f, "|"); held[f[1]] = 1; next } ($2 in held) { print $2 }' <(printf '%s\n' "$2") -
}

# rgt_slurm_final ID: "<state><TAB><exit code>" of a job that left the queue, from sacct where
# accounting answers, else from scontrol (which remembers a finished job for MinJobAge); nothing
# when neither knows it.
rgt_slurm_final() {
  local out
  if out=$(rgt_timeout 20 sacct -n -P -X -j "$1" -o State,ExitCode 2> /dev/null) && [ -n "$out" ]; then
    printf '%s\n' "$out" | head -n 1 | awk -F'|' '{ split($1, s, " "); print s[1] "\t" $2 }'
    return 0
  fi
  out=$(rgt_timeout 20 scontrol show job -o "$1" 2> /dev/null) || return 0
  printf '%s\n' "$out" | head -n 1 | tr ' ' '\n' | awk -F= '$1 == "JobState" { s = $2 } $1 == "ExitCode" { e = $2 } END { if (s != "") print s "\t" e }'
}
