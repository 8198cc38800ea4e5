# shellcheck shell=sh
# Gather every fact the plan needs in one round trip. Read-only. After common.sh; Python
# (hardening/host/facts.py) sets, in the assignments before them: ADMIN, STATE (the state
# directory), CLOUD_INIT_WAIT, BANNER, MAIN_CONFIG, DROPIN_DIR, SOCKET_DROPIN, and SECTION, SSHD_RC
# (hardening/host/shell.py).
# Output: sections "@@ name" followed by their text; files are base64 so nothing is mangled.
sec() { printf '\n%s %s\n' "$SECTION" "$1"; }
client_addr=${SSH_CONNECTION%% *}
[ -n "$client_addr" ] || client_addr=127.0.0.1

# A fresh instance may still be running cloud-init, which writes sshd drop-ins and creates
# users: before an apply, let it finish (bounded), so that what we read is what stays.
# cloud-init's last stage links /run/cloud-init/result.json, and its first stage of each boot
# removes it: when it is there, this boot's cloud-init is done, and asking `cloud-init status`
# (a Python program, a third of a second) would only say so.
ci_wait=$CLOUD_INIT_WAIT
if [ "$ci_wait" -gt 0 ] && [ ! -e /run/cloud-init/result.json ] && [ ! -e /run/cloud-init/disabled ] \
   && command -v cloud-init >/dev/null 2>&1; then
  timeout "$ci_wait" cloud-init status --wait >/dev/null 2>&1
fi
sec uid; id -u
sec os-release; cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null
sec sshd-version; "$SSHD" -V 2>&1 | head -n 3
sec client-addr; echo "$client_addr"
sec sshd-T
sshd_check -T -C "user=$ADMIN,host=$client_addr,addr=$client_addr"; echo "$SSHD_RC$?"
for q in kex cipher mac key-sig; do sec "ssh-Q-$q"; ssh -Q "$q" 2>/dev/null; done
sec main-config; base64 < "$MAIN_CONFIG"
sec dropins
if [ -d "$DROPIN_DIR" ]; then
  for f in "$DROPIN_DIR"/*; do
    [ -f "$f" ] || continue
    # name and content both base64: names may hold spaces, files may be empty
    printf '%s %s\n' "$(printf '%s' "${f##*/}" | base64 | tr -d '\n')" "$(base64 < "$f" | tr -d '\n')"
  done
fi
sec host-keys; for f in /etc/ssh/ssh_host_*_key; do [ -f "$f" ] && echo "$f"; done
sec file-modes
# Who may read or change sshd_config and the host keys (CIS 5.1.1-5.1.3): "MODE OWNER GROUP PATH".
for f in "$MAIN_CONFIG" /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub; do
  [ -f "$f" ] && stat -c '%a %U %G %n' "$f"
done
sec service
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
  echo "manager systemd"
  # One systemctl for the four units (each call costs ~15 ms): one block per unit, in the
  # order asked, named as asked (an alias shows its target's Id).
  units="ssh.service sshd.service ssh.socket sshd.socket"
  # shellcheck disable=SC2086
  systemctl show -p UnitFileState -p ActiveState $units 2>/dev/null | awk -v units="$units" '
    BEGIN { n = split(units, name, " "); i = 1 }
    /^$/ { if (seen) { i++; seen = 0 } next }
    { seen = 1; k = substr($0, 1, index($0, "=") - 1); v = substr($0, index($0, "=") + 1); val[i, k] = v }
    END { for (j = 1; j <= n; j++) printf "unit %s enabled=%s active=%s\n", name[j], val[j, "UnitFileState"], val[j, "ActiveState"] }'
else
  echo "manager none"
fi
for s in ssh sshd; do [ -x "/etc/init.d/$s" ] && echo "initscript $s"; done
# shellcheck disable=SC2086  # a list of paths without spaces
for p in $PID_FILES; do
  [ -s "$p" ] && { echo "pidfile $p $(cat "$p")"; break; }
done
sec socket-port
# Our drop-in that moves a socket-activated sshd's port (planning/socket_port.py): "UNIT BASE64".
for s in ssh sshd; do
  f="/etc/systemd/system/$s.socket.d/$SOCKET_DROPIN"
  [ -f "$f" ] && echo "$s $(base64 < "$f" | tr -d '\n')"
done
sec listener-cmdline
# Options on sshd's own command line beat sshd_config (RHEL 8 / Alibaba Cloud Linux 3 pass the
# system-wide crypto policy this way).
pid=$(listener_pid)
if [ -z "$pid" ] && command -v systemctl >/dev/null; then
  pid=$(systemctl show -p MainPID --value sshd.service ssh.service 2>/dev/null | grep -v '^0$' | head -n 1)
fi
[ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' < "/proc/$pid/cmdline"
sec listening
# What the running sshd listens on, as its own network namespace's /proc/net/tcp{,6} shows it
# ("tcp6 HEXADDR:HEXPORT"): a pending edit of the files shows up against `sshd -T`. "pid" first,
# so that a listener without sockets is told apart from one we could not read.
if [ -n "$pid" ] && [ -r "/proc/$pid/net/tcp" ] && [ -r "/proc/$pid/fd" ]; then
  echo "pid $pid"
  inodes=" "
  for fd in /proc/"$pid"/fd/*; do
    link=$(readlink "$fd" 2>/dev/null) || continue
    case $link in socket:\[*\]) inodes="$inodes${link#socket:[}"; inodes="${inodes%]} " ;; esac
  done
  for t in tcp tcp6; do
    [ -r "/proc/$pid/net/$t" ] || continue
    awk -v t="$t" -v inodes="$inodes" '$4 == "0A" && index(inodes, " " $10 " ") { print t, $2 }' \
      "/proc/$pid/net/$t"
  done
fi
sec sysconfig-sshd
[ -f /etc/sysconfig/sshd ] && base64 < /etc/sysconfig/sshd
sec banner
# Only when the request sets a Banner: sshd shows that file to every client before login.
if [ -n "$BANNER" ]; then
  if [ -L "$BANNER" ]; then echo link
  elif [ ! -e "$BANNER" ]; then echo missing
  elif [ ! -f "$BANNER" ]; then echo not-regular
  else echo "file $(stat -c '%a %u' "$BANNER")"; fi
fi
sec lock
if [ -d "$STATE/lock" ]; then
  echo "held $(cat "$STATE/lock/owner" 2>/dev/null)"
  o=$(cut -d' ' -f1 "$STATE/lock/owner" 2>/dev/null)
  [ -n "$o" ] && kill -0 "$o" 2>/dev/null && echo alive
fi
# Last: a user-writable file comes after every section the plan relies on (first one wins).
sec admin
if id "$ADMIN" >/dev/null 2>&1; then
  home=$(getent passwd "$ADMIN" | cut -d: -f6)
  echo "exists yes"; echo "home $home"
  echo "uid $(id -u "$ADMIN")"
  echo "shell $(getent passwd "$ADMIN" | cut -d: -f7)"
  echo "uid_min $(awk '$1 == "UID_MIN" { print $2 }' /etc/login.defs 2>/dev/null)"
  # Ours only if our root-only record names this very account (a re-made name is not ours).
  [ "$(cat "$STATE/admin-users/$ADMIN" 2>/dev/null)" = "$(id -u "$ADMIN")" ] && echo "ours"
  echo "groups $(id -Gn "$ADMIN")"
  # Never through a link the user made (it could point at /etc/shadow), and bounded.
  ak="$home/.ssh/authorized_keys"
  if [ ! -L "$home/.ssh" ] && [ ! -L "$ak" ] && [ -f "$ak" ]; then
    echo "authorized_keys"; head -c 65536 "$ak"
  fi
else
  echo "exists no"
fi
sec end
