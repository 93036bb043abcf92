#!/usr/bin/env bash
# Initialize-GpuHost: writes the environment file queue launchers source (only when its content
# changes), optionally installs tmux. A change is reported only after the write succeeded.
# Parameters: ENV_FILE, ENV_CONTENT, INSTALL_TMUX (1 or 0).
# Section: setup, records "CHANGED<TAB>what", "TMUX<TAB>present", "NOTE<TAB>text"; status 1 when
# the environment file could not be written.

write_env() {
  local dir
  dir=$(dirname "$ENV_FILE")
  mkdir -p "$dir" "$dir/../huggingface_cache" || { echo "cannot create $dir"; exit "$RGT_EXIT_FAILED"; }
  if [ -f "$ENV_FILE" ] && [ "$(cat "$ENV_FILE"; printf x)" = "${ENV_CONTENT}x" ]; then return 0; fi
  if printf '%s' "$ENV_CONTENT" > "$ENV_FILE.new.$$" && mv -f "$ENV_FILE.new.$$" "$ENV_FILE"; then
    printf 'CHANGED\tenv-file\n'
  else
    rm -f "$ENV_FILE.new.$$"
    echo "cannot write $ENV_FILE"
    exit "$RGT_EXIT_FAILED"
  fi
}

tmux_state() {
  if command -v tmux > /dev/null 2>&1; then printf 'TMUX\tpresent\n'; return 0; fi
  [ "$INSTALL_TMUX" = 1 ] || return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get > /dev/null 2>&1; then
    printf 'NOTE\ttmux is missing and cannot be installed without root and apt-get; queues will use setsid nohup\n'
    return 0
  fi
  if rgt_timeout 300 apt-get install -y -q tmux > /dev/null 2>&1 ||
    { rgt_timeout 300 apt-get update -q > /dev/null 2>&1 && rgt_timeout 300 apt-get install -y -q tmux > /dev/null 2>&1; }; then
    printf 'CHANGED\ttmux-installed\nTMUX\tpresent\n'
  else
    printf 'NOTE\tapt-get could not install tmux (no egress? on AutoDL: source /etc/network_turbo first); queues will use setsid nohup\n'
  fi
}

setup() {
  write_env || exit "$RGT_EXIT_FAILED"
  tmux_state
}

rgt_section setup setup
