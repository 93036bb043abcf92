#!/usr/bin/env bash
# Send-GpuSecret on the box: the secret arrives on stdin (never a command line) and lands in TARGET
# with mode 600 through a temporary name. Parameters: TARGET (absolute).
# Section: secret, the file's mode after the write.

write_secret() {
  umask 077
  mkdir -p "$(dirname "$TARGET")" || exit "$RGT_EXIT_FAILED"
  cat > "$TARGET.rgt-tmp.$$" || { rm -f "$TARGET.rgt-tmp.$$"; exit "$RGT_EXIT_FAILED"; }
  chmod 600 "$TARGET.rgt-tmp.$$" && mv -f "$TARGET.rgt-tmp.$$" "$TARGET" || exit "$RGT_EXIT_FAILED"
  stat -c %a "$TARGET"
}

rgt_section_stdin secret write_secret
