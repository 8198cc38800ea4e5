"""A port move as the steps see it: where the fresh login goes, and why it could not get there.

The transaction itself does not change for a move: a reload leaves the original connection
(old port) alone, so it stays the way back until the confirm, which the fresh login on the new
port sends. What this adds is the port that login aims at (what the validated candidate's
`sshd -T` says), the cause named when it fails, and the record of where it ended.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping

from hardening.ops.session import Session
from hardening.ssh.transport import Connection
from hardening.ssh.trust import KnownHostsCheck


def port_after(before: Mapping[str, str], candidate: Mapping[str, str], connected: int) -> int:
    """The port sshd listens on once the candidate is live, from the `sshd -T` of both: a
    move (--set Port, or the host's own Port lines back once Port is not managed) when the
    candidate's one port differs from the live one; else the port we came in on."""
    now, then = before.get("port", "").split(), candidate.get("port", "").split()
    if then == now or len(then) != 1 or not then[0].isdigit():
        return connected
    return int(then[0])


def why_not(host: str, port: int, timeout: float) -> str:
    """One TCP connect to the new port, to tell a refused bind from a firewall that drops."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return f"{port} answers, but no login got through"
    except ConnectionRefusedError:
        return f"nothing listens on {port} after the reload: sshd could not bind it?"
    except TimeoutError:
        return (
            f"no answer on {port} within {timeout:g}s: a firewall (cloud security group or "
            "host) drops it?"
        )
    except OSError as exc:
        return f"{port} cannot be reached: {exc.strerror or exc}"


def record_move(session: Session, conn: Connection, moved_to: int) -> None:
    """After the confirm: the report says the port it ended on, and known_hosts (when in use)
    gets the same, proven key under the new port's name (`[host]:port`)."""
    report = session.report
    if moved_to == conn.target.port:
        return
    report.port = moved_to
    target = session.target
    note = KnownHostsCheck(target.host_keys, target.host, moved_to).remember_moved(conn.host_key)
    report.notes.append(note or f"sshd moved from port {conn.target.port} to {moved_to}")
