# Make sure the admin user can log in with our key and become root without a password, so
# that closing root's SSH login never locks the operator out. Header sets ADMIN and KEY_LINE.
# Prints one "@did WHAT" line per change, so that hardening/transaction.py can undo them.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH LC_ALL=C
set -u
sudoers="/etc/sudoers.d/90-hardened-ecs-$ADMIN"
if ! id "$ADMIN" >/dev/null 2>&1; then
  if command -v useradd >/dev/null; then useradd -m -s /bin/sh "$ADMIN" || exit 20
  else adduser -D -s /bin/sh "$ADMIN" || exit 20; fi
  # A locked password ("!") makes some sshd builds refuse even key logins; "*" means no
  # password at all while keeping the account usable with a key.
  usermod -p '*' "$ADMIN" 2>/dev/null || true
  echo "@did user"
fi
home=$(getent passwd "$ADMIN" | cut -d: -f6)
group=$(id -gn "$ADMIN")
if [ ! -d "$home/.ssh" ]; then
  mkdir -p "$home/.ssh" && chown "$ADMIN:$group" "$home/.ssh" && chmod 700 "$home/.ssh" || exit 21
  echo "@did sshdir"
fi
ak="$home/.ssh/authorized_keys"
key_b64=$(printf '%s' "$KEY_LINE" | cut -d' ' -f2)
if ! { [ -f "$ak" ] && grep -qF "$key_b64" "$ak"; }; then
  if [ -f "$ak" ]; then
    # A last line without its newline would swallow ours (and the undo would take both).
    [ -s "$ak" ] && [ -n "$(tail -c 1 "$ak")" ] && { printf '\n' >> "$ak" || exit 21; }
    echo "@did key-append"
  else
    echo "@did key-file"
  fi
  printf '%s\n' "$KEY_LINE" >> "$ak" && chown "$ADMIN:$group" "$ak" && chmod 600 "$ak" || exit 21
fi
if ! sudo -n -l -U "$ADMIN" 2>/dev/null | grep -q 'NOPASSWD: ALL'; then
  tmp="/etc/sudoers.d/.90-hardened-ecs-$ADMIN.$$"  # sudo skips names with a dot
  { printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$ADMIN" > "$tmp" && chmod 440 "$tmp"; } || { rm -f "$tmp"; exit 22; }
  # visudo checks the file on its own, then the whole policy once it is in place.
  visudo -cqf "$tmp" >/dev/null || { rm -f "$tmp"; exit 22; }
  mv -f "$tmp" "$sudoers" || { rm -f "$tmp"; exit 22; }
  visudo -cq >/dev/null || { rm -f "$sudoers"; exit 22; }
  echo "@did sudoers"
fi
echo "@admin-ready"
