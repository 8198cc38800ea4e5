# Undo what admin.sh did (header sets ADMIN, KEY_LINE, DID = the "@did" words it printed).
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH LC_ALL=C
set -u
home=$(getent passwd "$ADMIN" | cut -d: -f6)
for what in $DID; do
  case "$what" in
    sudoers) rm -f "/etc/sudoers.d/90-hardened-ecs-$ADMIN" ;;
    key-append)
      # Only the exact line we appended; the file is replaced only once the copy is whole.
      ak="$home/.ssh/authorized_keys"; tmp="$home/.ssh/.authorized_keys.hardened-ecs"
      grep -vxF "$KEY_LINE" "$ak" > "$tmp"; [ $? -le 1 ] \
        && chown --reference="$ak" "$tmp" && chmod 600 "$tmp" && mv -f "$tmp" "$ak" \
        || { rm -f "$tmp"; echo "@undo-failed key"; } ;;
    key-file) rm -f "$home/.ssh/authorized_keys" ;;
    sshdir) rmdir "$home/.ssh" 2>/dev/null ;;
    user)
      # The proof login's session may still be exiting: userdel refuses while it runs.
      n=0
      until userdel -r "$ADMIN" 2>/dev/null || deluser --remove-home "$ADMIN" 2>/dev/null; do
        n=$((n + 1)); [ "$n" -ge 50 ] && { echo "@undo-failed user"; break; }
        sleep 0.2
      done ;;
  esac
done
echo "@undone"
