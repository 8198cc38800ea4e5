"""A socket-activated sshd's port: systemd's socket unit listens, not sshd, so a Port move is
a drop-in for the socket (and sshd_config's Port for sshd -T and Ubuntu's generator).

Pure. What the hosts do (seen on Debian test hosts; Ubuntu from its packaging and notes):
- Debian 12-14 ship `ssh.socket` with a fixed `ListenStream=22` (Accept=no; Debian 11:
  Accept=yes with ssh@.service per connection) and no generator: sshd_config's Port is not read.
- Ubuntu 24.04's openssh-server ships sshd-socket-generator, which writes
  /run/systemd/generator/ssh.socket.d/addresses.conf from sshd_config's Port/ListenAddress at
  every `systemctl daemon-reload`.
One drop-in under /etc that sorts after both (`ListenStream=` clears the list, then ours)
moves the port on either; sshd_config carries the same Port, so the generator agrees with it.
The rollback restores both files and runs the same commands, so it returns to the old port.
"""

from __future__ import annotations

from hardening.host.paths import socket_dropin

_HEADER = "# Managed by hardened-ecs: the port sshd's socket listens on (Port in sshd_config).\n"


def dropin_text(port: str) -> str:
    # A bare port listens on IPv6 and, with BindIPv6Only=both, on IPv4 too (systemd binds IPv4
    # alone where the kernel has no IPv6). Some Ubuntu 24.04 builds set ipv6-only in ssh.socket
    # for their two explicit addresses: under it, our bare port would shut IPv4 clients out.
    return f"{_HEADER}[Socket]\nListenStream=\nListenStream={port}\nBindIPv6Only=both\n"


def socket_change(
    service: str, present: str | None, wanted_port: str | None
) -> tuple[str, str | None] | None:
    """(path, content; None: remove) of our socket drop-in, or None when it is as wanted."""
    want = None if wanted_port is None else dropin_text(wanted_port)
    return None if want == present else (socket_dropin(service), want)


def move_commands(service: str, running: bool) -> str:
    """Re-read the units, hand the port to the socket. A socket refuses a restart while its
    service holds the listener, so the service stops first (KillMode=process on Debian and
    Ubuntu: the sessions, ours included, stay); it starts again if it ran (Accept=no), else
    the socket starts sshd at the next connection."""
    again = f" && systemctl start {service}.service" if running else ""
    return (
        f"systemctl daemon-reload && systemctl stop {service}.service"
        f" && {RESET_START_LIMIT}{service}.service {service}.socket"
        f" && systemctl restart {service}.socket{again}"
    )


# Every move and reload starts sshd's service again: a few applies in a row (a first boot, a
# key rotation, two moves) reach systemd's start limit (5 in 10 s by default) and the next
# start is refused. Counting those starts is for a crashing daemon, not for us.
RESET_START_LIMIT = "systemctl reset-failed "
