# shellcheck shell=sh
# Let sshd bind a port under SELinux: label it ssh_port_t, or take our label away again
# (hardening/planning/port_guards.py says when; hardening/change/port_label.py sends it, under
# the host lock, before the reload). Header sets PORT and ACTION (add or delete).
# "add" prints "@did label" once the label is there, so that only a label we made is removed.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH LC_ALL=C
case $ACTION in
  add)
    semanage port -a -t ssh_port_t -p tcp "$PORT" || exit 30
    echo "@did label" ;;
  delete)
    semanage port -d -t ssh_port_t -p tcp "$PORT" || echo "@undo-failed label" ;;
  *) echo "unknown ACTION $ACTION" >&2; exit 2 ;;
esac
