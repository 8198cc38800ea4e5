"""A /dev/log for a chroot host, read by the test process: the image has no syslog daemon, so
sshd runs with its stock options and logs as on a real server."""

from __future__ import annotations

import os
import re
import select
import socket
import threading
from pathlib import Path


class SyslogSink:
    """A /dev/log for one host: a datagram socket whose messages a daemon thread appends to a
    file. Reading drains the socket first, so whatever was logged before a read is in it."""

    def __init__(self, sock_path: Path, log_path: Path) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(sock_path))
        sock_path.chmod(0o666)  # sshd's unprivileged children and sudo log too
        self._sock.setblocking(False)
        self._log = open(log_path, "a+b")  # noqa: SIM115 - closed in close()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        # Someone must keep reading: a full datagram queue would block sshd's syslog() calls.
        self._thread = threading.Thread(target=self._run, name=f"syslog:{sock_path}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            ready, _, _ = select.select([self._sock.fileno(), self._wake_r], [], [])
            if self._wake_r in ready:
                return
            self._drain()

    def _drain(self) -> None:
        with self._lock:
            if self._log.closed:
                return
            while True:
                try:
                    data = self._sock.recv(65536)
                except (BlockingIOError, OSError):
                    break
                # "<38>Nov 27 06:40:01 sshd[19]: Accepted ..." -> drop the priority prefix
                line = re.sub(rb"^<\d+>", b"", data).rstrip(b"\n\0")
                self._log.write(line + b"\n")
            self._log.flush()

    def read(self) -> str:
        self._drain()
        with self._lock:
            if self._log.closed:
                return ""
            self._log.seek(0)
            return self._log.read().decode(errors="replace")

    def close(self) -> None:
        os.write(self._wake_w, b"x")
        self._thread.join()
        self._drain()
        with self._lock:
            self._log.close()
        self._sock.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
