#!/usr/bin/env bash
# shellcheck disable=SC2034 # the exit statuses are for the scripts that load this file
# The helpers every box script may call, and the one table of the statuses they end with. BoxScript
# puts this file first in every script; a standalone one (a launcher file, the sampler) names it in
# its "# uses:" line like any other library. The lint composes each script as BoxScript does and
# fails when a script calls an rgt_ function that its composition does not define.

# Exit statuses (BoxExit.cs holds the same names and numbers; a test keeps the two equal).
# 0 is success; 1 a failure whose output says why; 124 and 127 keep the meaning coreutils timeout and
# bash give them, so a box script and the tools it runs agree.
RGT_EXIT_FAILED=1        # the step failed; its output says why
RGT_EXIT_MISSING=2       # a file or directory it was asked about is not there
RGT_EXIT_UNREADABLE=3    # it is there but cannot be read, written or unpacked
RGT_EXIT_UNCONFIGURED=4  # a setting it needs is empty
RGT_EXIT_NO_TOOL=5       # a tool it needs is not installed (flock; sbatch off a login node)
RGT_EXIT_BUSY=6          # another run holds the lock
RGT_EXIT_NO_ANSWER=9     # a tool it asked (squeue) did not answer: the state is unknown
RGT_EXIT_REFUSED=10      # the scheduler refused the request (scancel)
RGT_EXIT_CHANGED=11      # what it works on changed under it (an upload's partial is not the one it left)
RGT_EXIT_NO_WORKDIR=97   # a cell could not enter its working directory (the cell's own exit code)
RGT_EXIT_TIMEOUT=124     # coreutils timeout stopped the command
RGT_EXIT_NO_COMMAND=127  # the command is not installed (nvidia-smi)

# rgt_put FILE TEXT: writes TEXT and a newline to FILE through a temporary name, then renames it,
# so a reader never sees half a marker.
rgt_put() { printf '%s\n' "$2" > "$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"; }

# rgt_now: the time now, UTC, as the markers hold it (ISO 8601, seconds).
rgt_now() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# rgt_ended STATE: whether STATE is one a cell's marker holds once the cell has ended
# (CellStates.EndedOnTheBox; a test keeps the two lists equal).
rgt_ended() {
  case "$1" in
    Succeeded | Failed | NoArtifact | SyncFailed | Cancelled) return 0 ;;
  esac
  return 1
}

# rgt_timeout SECONDS COMMAND [ARG...]: COMMAND bounded by coreutils timeout where the box has it.
rgt_timeout() {
  local s=$1
  shift
  if command -v timeout > /dev/null 2>&1; then timeout -k 5 "$s" "$@"; else "$@"; fi
}
