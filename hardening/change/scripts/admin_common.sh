# shellcheck shell=sh
# The start of admin.sh and admin_undo.sh (admin.py sends it in front of each).
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH LC_ALL=C
set -u
export KEY_LINE
# As the user (their rights, not root's): the checks give clear errors, the rights make
# any race with the user harmless. Home looked up on each call: admin.sh may just have made it.
as_admin() {
  home=$(getent passwd "$ADMIN" | cut -d: -f6)
  if command -v setpriv >/dev/null 2>&1; then
    HOME="$home" setpriv --reuid="$ADMIN" --regid="$(id -g "$ADMIN")" --init-groups -- sh -c "$1"
  else
    HOME="$home" su -s /bin/sh "$ADMIN" -c "$1"
  fi
}
