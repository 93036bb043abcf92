#!/usr/bin/env bash
# SHA-256 on the box: a library, put before the scripts that name it in their "# uses:" line.
#
# rgt_sha256 FILE: prints FILE's SHA-256 (64 hex digits); status non-zero when it cannot be read.
# OpenSSL's digest uses the CPU's SHA instructions and coreutils' sha256sum (9.1) does not (six times
# faster, bench/MEASUREMENTS.md). So openssl is tried first; sha256sum is the fallback, and so is any
# openssl output that is not a hash.
rgt_sha256() {
  local h
  if command -v openssl > /dev/null 2>&1 && h=$(openssl dgst -sha256 -r < "$1" 2> /dev/null) && [[ $h =~ ^[0-9a-f]{64} ]]; then
    printf '%s\n' "${h:0:64}"
    return 0
  fi
  h=$(sha256sum < "$1") || return 1
  [[ $h =~ ^[0-9a-f]{64} ]] || return 1
  printf '%s\n' "${h:0:64}"
}

# rgt_sha256_cached FILE [final]: as rgt_sha256, through the cache under ~/.cache/rgt/sha256 (one
# entry per path). The key is the inode, size and nanosecond mtime, so a same-size rewrite within a
# second, or `cp -p`, is never served a stale hash. A file changed in the last 2 s may still be being
# written and is not cached, unless the caller knows it is final (the launcher, after the trainer exited).
rgt_sha256_cached() {
  local f=$1 final=${2:-} cur s m
  cur=$(stat -L -c '%i %s %.9Y' "$f" 2> /dev/null) || return 1
  if s=$(rgt_hash_entry "$f") && [ -f "$s" ] && [ "$(sed -n 1p "$s")" = "$cur" ]; then
    s=$(sed -n 2p "$s")
    if [ "${#s}" -eq 64 ]; then
      printf '%s\n' "$s"
      return 0
    fi
  fi
  s=$(rgt_sha256 "$f") || return 1
  m=${cur##* }
  if [ "$final" = final ] || [ "$(($(date +%s) - ${m%%.*}))" -ge 2 ]; then rgt_sha256_remember "$f" "$s" "$cur"; fi
  printf '%s\n' "$s"
}

# rgt_sha256_remember FILE HASH [STAT]: caches a hash the caller has just verified (a copy it compared).
rgt_sha256_remember() {
  local e cur=${3:-}
  e=$(rgt_hash_entry "$1") || return 0
  [ -n "$cur" ] || cur=$(stat -L -c '%i %s %.9Y' "$1" 2> /dev/null) || return 0
  mkdir -p "${e%/*}" 2> /dev/null && printf '%s\n%s\n' "$cur" "$2" > "$e.$$" && mv -f "$e.$$" "$e"
}

# rgt_copy_verified FILE DIR: copies FILE into DIR under its own name, through a temporary name,
# and gives it that name only once the copy's SHA-256 is the original's (the original's hash is
# cached as final: the trainer that wrote it has exited). The one durable-copy routine: the
# launcher's copy after a cell and Sync-GpuCheckpoint's both use it. Status non-zero with RGT_WHY
# set when the copy fails or differs; RGT_BYTES is the file's size on success.
# shellcheck disable=SC2034 # RGT_WHY and RGT_BYTES are what the caller reads
rgt_copy_verified() {
  local f=$1 dir=$2 b h err
  b=${f##*/}
  RGT_WHY="" RGT_BYTES=0
  if ! h=$(rgt_sha256_cached "$f" final); then
    RGT_WHY="cannot read $b to hash it"
    return 1
  fi
  if ! err=$(cp -f "$f" "$dir/.$b.rgt-tmp" 2>&1); then
    RGT_WHY="copy of $b failed: $err"
    rm -f "$dir/.$b.rgt-tmp"
    return 1
  fi
  if [ "$(rgt_sha256 "$dir/.$b.rgt-tmp")" != "$h" ]; then
    RGT_WHY="the copy of $b in $dir differs from the original (SHA-256)"
    rm -f "$dir/.$b.rgt-tmp"
    return 1
  fi
  mv -f "$dir/.$b.rgt-tmp" "$dir/$b" || {
    RGT_WHY="rename of $b failed"
    return 1
  }
  rgt_sha256_remember "$dir/$b" "$h"
  RGT_BYTES=$(stat -c %s "$dir/$b" 2> /dev/null || echo 0)
}

# rgt_hash_entry FILE: the cache file for FILE's path (none without a HOME).
rgt_hash_entry() {
  [ -n "${HOME:-}" ] || return 1
  printf '%s/.cache/rgt/sha256/%s\n' "$HOME" "$(printf '%s' "$1" | sha1sum | cut -c1-40)"
}
