#!/usr/bin/env bash
# Bytes and inodes of the data and durable directories (both, always: a full inode table stops a trainer as surely as a full disk).
# Parameters: DATA_DIR, DURABLE_DIR (absolute; empty = not configured, no section).
# Sections: df-data, df-durable: `df -Pk DIR` then `df -iP DIR`; rc 2 (RGT_EXIT_MISSING) when DIR is not a directory.

rgt_df() {
  [ -d "$1" ] || { echo "not a directory: $1"; exit "$RGT_EXIT_MISSING"; }
  df -Pk "$1"
  df -iP "$1"
}

if [ -n "$DATA_DIR" ]; then rgt_section df-data rgt_df "$DATA_DIR"; fi
if [ -n "$DURABLE_DIR" ]; then rgt_section df-durable rgt_df "$DURABLE_DIR"; fi
