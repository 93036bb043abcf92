#!/usr/bin/env bash
# The values of environment variables on the box, for resolving remote paths once (RemotePaths.cs).
# $@: variable names (already checked to be names). Section: env, records
# "set<TAB><name><TAB><value><NUL>" or "unset<TAB><name><NUL>".

read_env() {
  local v
  for v in "$@"; do
    if [ -n "${!v+x}" ]; then printf 'set\t%s\t%s\0' "$v" "${!v}"; else printf 'unset\t%s\0' "$v"; fi
  done
}

rgt_section env read_env "$@"
