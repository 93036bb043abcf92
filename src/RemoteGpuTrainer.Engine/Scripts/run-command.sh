#!/usr/bin/env bash
# Invoke-GpuCommand: the user's command, run by bash and bounded on the box by coreutils timeout
# where the box has it (exit 124 when it had to stop the command). Output is the command's own.
# Parameters: USER_COMMAND, TIMEOUT_SECONDS.
# standalone

if command -v timeout > /dev/null 2>&1; then
  exec timeout -k 5 "$TIMEOUT_SECONDS" bash -c "$USER_COMMAND"
fi
exec bash -c "$USER_COMMAND"
