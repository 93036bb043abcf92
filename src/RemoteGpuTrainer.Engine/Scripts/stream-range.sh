#!/usr/bin/env bash
# A pull over an exec channel: writes bytes [START, START+LENGTH) of FILE to stdout, raw (no wire
# sections). Parameters: FILE (absolute), START, LENGTH.
# Status RGT_EXIT_MISSING: FILE is not a readable file; otherwise head's. tail's is not used: it ends by SIGPIPE or
# EPIPE once head has its bytes; a read that fails midway is a short stream, which the client counts.
if [ ! -f "$FILE" ] || [ ! -r "$FILE" ]; then
  echo "cannot read $FILE" >&2
  exit "$RGT_EXIT_MISSING"
fi
tail -c +"$((START + 1))" -- "$FILE" | head -c "$LENGTH"
