#!/usr/bin/env bash
# The prelude of every box-side script (BoxScript.cs puts it first), and the one wire format that
# scripts use to print results back. Parsed by Parsing/ProbeSections.cs.
#
#   @@RGT <name>          a section begins
#   |<text>               one line of the section's output, always behind "|": nothing the output
#                         holds (a training log, a file name) can pass for a marker
#   @@RGT <name> rc=<n>   the section ends; <n> is the exit status of its command
#
# Lines that start with neither "@@RGT " nor "|" are noise (a login banner, a profile's echo) and
# are ignored. Inside a section, records are tab-separated fields on one line, or end with a NUL
# byte where a field is a file name (names may hold tabs and newlines). A record starts with its
# word: an outcome in upper case (OK, MISMATCH, STARTED), a kind of data in lower case (cell, value).
# uses: rgt
export LC_ALL=C

# rgt_section NAME COMMAND [ARG...]: runs COMMAND in a subshell (its `exit` ends only that) with
# stdin closed, and prints its output and stderr as section NAME.
rgt_section() {
  local name=$1
  shift
  printf '@@RGT %s\n' "$name"
  ("$@") 2>&1 < /dev/null | rgt_frame
  local rc=${PIPESTATUS[0]}
  printf '\n@@RGT %s rc=%s\n' "$name" "$rc"
}

# rgt_section_stdin NAME COMMAND [ARG...]: as rgt_section, but COMMAND reads the script's stdin
# (a secret arrives that way, never on a command line).
rgt_section_stdin() {
  local name=$1
  shift
  printf '@@RGT %s\n' "$name"
  ("$@") 2>&1 | rgt_frame
  local rc=${PIPESTATUS[0]}
  printf '\n@@RGT %s rc=%s\n' "$name" "$rc"
}

# rgt_frame: copies stdin to stdout with every line behind "|".
rgt_frame() { sed 's/^/|/'; }
