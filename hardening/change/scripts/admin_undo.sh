# shellcheck shell=sh
# Undo what admin.sh did (header sets ADMIN, KEY_LINE, STATE, DID = the "@did" words it
# printed, last first). The user's home is only ever touched as that user (as_admin).
# shellcheck disable=SC2016  # as_admin's scripts expand in the user's shell, not this one
for what in $DID; do
  case "$what" in
    sudoers) rm -f "/etc/sudoers.d/90-hardened-ecs-$ADMIN" ;;
    key-append)
      # Only the exact line we appended; the file is replaced only once the copy is whole.
      as_admin '
        umask 077; cd "$HOME/.ssh" && [ -f authorized_keys ] && [ ! -L authorized_keys ] || exit 1
        tmp=$(mktemp .authorized_keys.XXXXXX) || exit 1
        grep -vxF "$KEY_LINE" authorized_keys > "$tmp"; [ $? -le 1 ] && mv -f "$tmp" authorized_keys \
          || { rm -f "$tmp"; exit 1; }' || echo "@undo-failed key" ;;
    key-file) as_admin 'cd "$HOME/.ssh" && [ ! -L authorized_keys ] && rm -f authorized_keys' ;;
    sshdir) as_admin 'cd "$HOME" && [ ! -L .ssh ] && rmdir .ssh 2>/dev/null' ;;
    user)
      # The proof login's session may still be exiting: userdel refuses while it runs.
      n=0
      until userdel -r "$ADMIN" 2>/dev/null || deluser --remove-home "$ADMIN" 2>/dev/null; do
        n=$((n + 1)); [ "$n" -ge 50 ] && { echo "@undo-failed user"; break; }
        sleep 0.2
      done
      id "$ADMIN" >/dev/null 2>&1 || rm -f "$STATE/admin-users/$ADMIN" ;;
  esac
done
echo "@undone"
