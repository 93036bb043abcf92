#!/usr/bin/env bash
# A Paperspace machine's startup script (POST /startup-scripts), run as root at every boot: the
# machine API has no SSH-key field, so the user's public key is added to SSH_USER's authorized_keys
# here, once. Parameters: PUBLIC_KEY (one OpenSSH public key line), SSH_USER.
# standalone

add_key() {
  local home dir keys
  home=$(getent passwd "$SSH_USER" | cut -d: -f6)
  [ -n "$home" ] || { echo "rgt: no user $SSH_USER" >&2; return 1; }
  dir="$home/.ssh"
  keys="$dir/authorized_keys"
  install -d -m 700 -o "$SSH_USER" -g "$SSH_USER" "$dir" || return 1
  touch "$keys" && chmod 600 "$keys" && chown "$SSH_USER:$SSH_USER" "$keys" || return 1
  grep -qxF -- "$PUBLIC_KEY" "$keys" || printf '%s\n' "$PUBLIC_KEY" >> "$keys"
}

add_key
