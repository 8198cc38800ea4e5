# shellcheck shell=sh
# Make sure the admin user can log in with our key and become root without a password, so
# that closing root's SSH login never locks the operator out. Header sets ADMIN, KEY_LINE,
# STATE and ADOPT (yes: the operator accepts an account hardened-ecs did not create).
# Prints one "@did WHAT" line per change, so that hardening/ops/admin_setup.py can undo them.
# Nothing in the user's home is touched as root (as_admin, admin_common.sh): a link there
# could point anywhere.
sudoers="/etc/sudoers.d/90-hardened-ecs-$ADMIN"
marks="$STATE/admin-users"
if ! id "$ADMIN" >/dev/null 2>&1; then
  if command -v useradd >/dev/null; then useradd -m -s /bin/sh "$ADMIN" || exit 20
  else adduser -D -s /bin/sh "$ADMIN" || exit 20; fi
  echo "@did user"
  # A locked password ("!") makes some sshd builds refuse even key logins; "*" means no
  # password at all while keeping the account usable with a key.
  usermod -p '*' "$ADMIN" 2>/dev/null || true
  # Root-only record of the accounts we made (by uid): the next run knows them as ours.
  # shellcheck disable=SC2174  # only the last needs 700: the lock made $STATE 700
  { mkdir -p -m 700 "$marks" && id -u "$ADMIN" > "$marks/$ADMIN"; } || exit 20
elif [ "$ADOPT" != yes ] && [ "$(cat "$marks/$ADMIN" 2>/dev/null)" != "$(id -u "$ADMIN")" ]; then
  echo "admin user $ADMIN already exists and was not created by hardened-ecs" >&2
  exit 23
fi
# shellcheck disable=SC2016  # expanded by the user's shell, not this one
as_admin '
  umask 077
  cd "$HOME" || { echo "cannot enter the home directory $HOME as its user" >&2; exit 21; }
  if [ -L .ssh ] || { [ -e .ssh ] && [ ! -d .ssh ]; }; then
    echo "$HOME/.ssh is a symbolic link or not a directory; refusing to follow it" >&2; exit 24
  fi
  if [ ! -d .ssh ]; then mkdir .ssh || exit 21; echo "@did sshdir"; fi
  ak=.ssh/authorized_keys
  if [ -L "$ak" ] || { [ -e "$ak" ] && [ ! -f "$ak" ]; }; then
    echo "$HOME/$ak is a symbolic link or not a regular file; refusing to follow it" >&2; exit 24
  fi
  key_b64=$(printf "%s" "$KEY_LINE" | cut -d" " -f2)
  if ! { [ -f "$ak" ] && grep -qF "$key_b64" "$ak"; }; then
    if [ -f "$ak" ]; then
      # A last line without its newline would swallow ours (and the undo would take both).
      [ -s "$ak" ] && [ -n "$(tail -c 1 "$ak")" ] && { printf "\n" >> "$ak" || exit 21; }
      echo "@did key-append"
    else
      echo "@did key-file"
    fi
    printf "%s\n" "$KEY_LINE" >> "$ak" && chmod 600 "$ak" || exit 21
  fi
' || exit $?
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
