"""One command on one SSH channel: the channel opened ahead, the script sent in one flight,
its output collected, bounded in size and time. Used by transport.Connection.
"""

from __future__ import annotations

import secrets
import select
import threading
import time

import paramiko
from paramiko.common import cMSG_CHANNEL_REQUEST
from paramiko.message import Message

from hardening.model.errors import ConnectError


class ChannelAhead:
    """A session channel opened in the background, for the next command on this connection.

    Opening a channel is a round trip of its own; asked for while the previous command runs,
    it is ready when the next command starts. A failed or late one is simply not used."""

    def __init__(self, transport: paramiko.Transport) -> None:
        self._transport = transport
        self._chan: paramiko.Channel | None = None
        self._thread = threading.Thread(target=self._open, daemon=True)
        self._thread.start()

    def _open(self) -> None:
        try:
            self._chan = self._transport.open_session(timeout=30.0)
        except (OSError, paramiko.SSHException, EOFError):
            self._chan = None

    def take(self, timeout: float) -> paramiko.Channel | None:
        self._thread.join(timeout)
        chan = self._chan
        if chan is None or self._thread.is_alive() or chan.closed:
            return None
        return chan


# The script rides in the exec request itself when it fits (sshd runs the command line through
# the login shell: well under Linux's 128 KiB limit for one argument); larger ones go on stdin.
MAX_INLINE = 96 * 1024


def exec_script(chan: paramiko.Channel, command: str, script: str) -> None:
    """Start `command` with `script` as its stdin, in one flight.

    sshd opens a session's input window only once it has started the command, so input sent
    on stdin costs a round trip of its own. A here-document in the exec request needs none:
    the login shell feeds it to `command`, whose own command line stays short (the login
    shell execs it, so the script is in no process's argv for longer than that shell's
    parse); its quoted delimiter means no expansion, and one that occurs in the script is
    never chosen. Needs a POSIX-style login shell, as the `sudo ... sh -c` line does.
    """
    body = script if script.endswith("\n") else script + "\n"
    delimiter = "HARDENED_ECS_EOF_" + secrets.token_hex(8)
    while delimiter in body:
        delimiter = "HARDENED_ECS_EOF_" + secrets.token_hex(8)
    line = f"{command} <<'{delimiter}'\n{body}{delimiter}\n"
    if len(line.encode()) > MAX_INLINE:
        chan.exec_command(command)
        chan.sendall(script.encode())
        chan.shutdown_write()
        return
    m = Message()
    m.add_byte(cMSG_CHANNEL_REQUEST)
    m.add_int(chan.remote_chanid)
    m.add_string("exec")
    m.add_boolean(True)  # paramiko's own reply handling marks event_ready on success
    m.add_string(line)
    chan._event_pending()  # type: ignore[attr-defined]
    chan.transport._send_user_message(m)  # type: ignore[union-attr]
    chan.shutdown_write()


# What one command may send back, stdout and stderr together. The largest real answer is the
# facts script's (sshd -T, the config files in base64): tens of KB; 16 MiB is far above any
# real host and still small on the operator's machine.
MAX_OUTPUT = 16 * 1024 * 1024
_CHUNK = 65536


class HostMisbehaved(ConnectError):
    """The host sent too much, or too slowly: we stopped listening to that command."""


def collect(
    chan: paramiko.Channel, deadline: float, label: str, timeout: float
) -> tuple[bytes, bytes]:
    """stdout and stderr of a command, read side by side in chunks, bounded in size and time."""
    out, err = bytearray(), bytearray()
    while True:
        got = False
        for ready, recv, buf in (
            (chan.recv_ready, chan.recv, out),
            (chan.recv_stderr_ready, chan.recv_stderr, err),
        ):
            if ready():
                buf += recv(_CHUNK)
                got = True
        if len(out) + len(err) > MAX_OUTPUT:
            raise HostMisbehaved(
                f"{label} sent more than {MAX_OUTPUT // (1024 * 1024)} MiB for one command "
                "(a real host sends a few KB); stopped reading it"
            )
        now = time.monotonic()
        if now > deadline:
            raise HostMisbehaved(
                f"a command on {label} did not finish within {timeout:g}s in total; "
                "stopped waiting for it"
            )
        if got:
            continue
        # EOF ends both streams of the channel; anything buffered was read just above.
        if (chan.eof_received or chan.closed) and not (
            chan.recv_ready() or chan.recv_stderr_ready()
        ):
            return bytes(out), bytes(err)
        # Nothing buffered yet: wait for stdout (select wakes on it) or poll for stderr.
        select.select([chan], [], [], min(0.05, max(0.0, deadline - now)))
