# shellcheck shell=sh
# The shell facts.sh and txn.sh share: sent in front of each, in the same command
# (hardening/host/shell.py, shared_shell). Python sets, in the assignments before it:
#   PATH, PRIVSEP_DIR (sshd's privilege separation directory), PID_FILES (the listener's).
export PATH LC_ALL=C
SSHD=$(command -v sshd || echo /usr/sbin/sshd)

# The running listener's PID, from the first pidfile that names one ("" when none does).
listener_pid() {
  # shellcheck disable=SC2086  # a list of paths without spaces
  cat $PID_FILES 2>/dev/null | head -n 1
}

# sshd -t/-T need the privilege separation directory. Under Debian 11's ssh.socket
# (Accept=yes) every connection's ssh@.service removes /run/sshd when it ends, at any moment
# (our own earlier sessions too): make it again and retry when it vanished under us.
# Prints sshd's output (stdout and stderr), returns its exit status.
sshd_check() {
  n=0
  while :; do
    [ -d "$PRIVSEP_DIR" ] || mkdir -m 0755 "$PRIVSEP_DIR" 2>/dev/null
    out=$("$SSHD" "$@" 2>&1); rc=$?
    case $out in
      *"Missing privilege separation directory"*) [ "$n" -lt 20 ] && { n=$((n + 1)); continue; } ;;
    esac
    printf '%s\n' "$out"
    return "$rc"
  done
}
