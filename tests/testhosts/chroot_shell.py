"""A running chroot host from the test's side: commands inside it (nsenter), its files, `sshd -T`,
its syslog, users, and reloads/restarts that wait until sshd serves again."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from tests.testhosts.chroot_image import CopyMode
from tests.testhosts.chroot_stage import public_key_text
from tests.testhosts.loopback import LOOPBACK, listen_inodes, read_banner
from tests.testhosts.procs import TestHostError
from tests.testhosts.syslog import SyslogSink

CLEAN_ENV: Final = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C",
    "TERM": "dumb",
}


class ChrootShell:
    """What a test does with a running TestHost (a mixin: TestHost sets the fields)."""

    port: int
    init_pid: int | None
    state_dir: Path | None
    copy_mode: CopyMode
    start_timeout: float
    banner: str
    _unshare: subprocess.Popen[bytes] | None
    _version: str | None
    _syslog: SyslogSink | None
    _host_keys: dict[str, str]

    def listen_sockets(self) -> set[int]:
        """Inodes of the LISTEN sockets on this host's port (they change when sshd re-execs)."""
        return listen_inodes(self.port)

    def wait_listening(self, previous: set[int] | None = None, log_from: int = 0) -> None:
        """Wait until sshd serves the port again: a LISTEN socket not in `previous`, owned by
        the PID in /run/sshd.pid, answering with an SSH banner.

        After `service ssh reload` (SIGHUP) sshd closes its listening socket and re-execs
        itself: for a moment connections are refused, and just after the signal the old socket
        may still answer. Hence the socket identity, not just "the port answers".
        """
        deadline = time.monotonic() + self.start_timeout
        previous = previous or set()
        while True:
            if self._unshare is None or self._unshare.poll() is not None:
                raise TestHostError("host init is not running")
            new_log = self.syslog()[log_from:]
            # The listener's own fatal errors (per-connection ones must not count).
            for fatal in ("Cannot bind any address", "no hostkeys available"):
                if fatal in new_log:
                    raise TestHostError(f"sshd: {fatal}")
            inodes = listen_inodes(self.port)
            if inodes and not inodes & previous and self._pidfile_owns(inodes):
                with contextlib.suppress(OSError):
                    banner = read_banner(self.port)
                    if banner.startswith("SSH-"):
                        self.banner = banner
                        return
            if time.monotonic() > deadline:
                raise TestHostError(f"no sshd serving {LOOPBACK}:{self.port}")
            time.sleep(0.01)

    def _pidfile_owns(self, inodes: set[int]) -> bool:
        try:
            fd_dir = self.path(f"proc/{self.listener_pid()}/fd")  # the namespace's own /proc
            links = {os.readlink(fd_dir / fd) for fd in os.listdir(fd_dir)}
        except (OSError, ValueError):
            return False  # no pidfile yet, or a stale one
        return any(f"socket:[{inode}]" in links for inode in inodes)

    def path(self, rel: str) -> Path:
        """A path inside the running host, usable from outside (through /proc/INIT/root)."""
        if self.init_pid is None:
            raise TestHostError(f"{self!r} is not running")
        return Path(f"/proc/{self.init_pid}/root") / rel.lstrip("/")

    def run(
        self,
        cmd: str,
        *,
        check: bool = False,
        input: str | None = None,
        timeout: float | None = 300,
    ) -> subprocess.CompletedProcess[str]:
        """Run a shell command as root inside the host (its PID+mount namespace and chroot)."""
        if self.init_pid is None:
            raise TestHostError(f"{self!r} is not running")
        return subprocess.run(
            [
                "nsenter",
                "--target",
                str(self.init_pid),
                "--pid",
                "--mount",
                "--root",
                "--wd",
                "/bin/sh",
                "-c",
                cmd,
            ],
            input=input,
            capture_output=True,
            text=True,
            check=check,
            env=CLEAN_ENV,
            timeout=timeout,
        )

    def listener_pid(self) -> int:
        """The sshd listener's PID *in the host's namespace*, from /run/sshd.pid."""
        return int(self.path("run/sshd.pid").read_text().strip())

    def sshd_effective_all(self, user: str = "root") -> dict[str, list[str]]:
        """`sshd -T` for a connection by `user` from 127.0.0.1 (Match blocks applied); keys
        lowercased (OpenSSH 10.4+ prints MixedCase), every value of repeated keys kept."""
        spec = f"user={user},host={LOOPBACK},addr={LOOPBACK},laddr={LOOPBACK},lport={self.port}"
        proc = self.run(f"sshd -T -C {shlex.quote(spec)}")
        if proc.returncode != 0:
            raise TestHostError(f"sshd -T failed ({proc.returncode}): {proc.stderr.strip()}")
        result: dict[str, list[str]] = {}
        for line in proc.stdout.splitlines():
            key, _, value = line.strip().partition(" ")
            if key:
                result.setdefault(key.lower(), []).append(value.strip())
        return result

    def sshd_effective(self, user: str = "root") -> dict[str, str]:
        """Like `sshd_effective_all`; repeated keys (hostkey, port, ...) joined by newlines."""
        return {k: "\n".join(v) for k, v in self.sshd_effective_all(user).items()}

    @property
    def openssh_version(self) -> str:
        """The image's OpenSSH version, e.g. "9.2p1", from the banner sshd sent at start.

        Not from `sshd -V`: it exits 1 on 8.4 (still printing the version) and prints a bare
        "OpenSSH_9.2" on bookworm, where the banner and `ssh -V` say 9.2p1."""
        if self._version is None:
            m = re.search(r"OpenSSH_(\d+\.\d+(?:p\d+)?)", self.banner)
            if m is None:
                out = self.run("ssh -V 2>&1").stdout
                m = re.search(r"OpenSSH_(\d+\.\d+(?:p\d+)?)", out)
            if m is None:
                raise TestHostError(f"no OpenSSH version in {self.banner!r}")
            self._version = m.group(1)
        return self._version

    @property
    def openssh_release(self) -> tuple[int, int]:
        """(major, minor), e.g. (9, 2), for version comparisons."""
        m = re.match(r"(\d+)\.(\d+)", self.openssh_version)
        assert m is not None
        return int(m.group(1)), int(m.group(2))

    def host_public_keys(self) -> dict[str, str]:
        """The fresh host keys generated for this host: {"ssh-ed25519": "ssh-ed25519 AAAA..."}."""
        return dict(self._host_keys)

    def syslog(self) -> str:
        """Everything the host logged to syslog so far (sshd: auth decisions, key fingerprints
        with LogLevel VERBOSE, fatal errors; also PAM, sudo), one message per line."""
        return self._syslog.read() if self._syslog is not None else ""

    def add_user(
        self,
        name: str,
        *,
        authorized_keys: Sequence[str | Path] = (),
        sudo_nopasswd: bool = True,
        password: str | None = None,
    ) -> None:
        """Add a login user like Alibaba's `ecs-user`: home, bash, the given keys and, by
        default, passwordless sudo (/etc/sudoers.d/NAME)."""
        if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", name):
            raise ValueError(f"bad user name {name!r}")
        keys = "".join(public_key_text(k) + "\n" for k in authorized_keys)
        script = [
            f"useradd -m -s /bin/bash {name}",
            f"install -d -m 700 -o {name} -g {name} /home/{name}/.ssh",
            f"install -m 600 -o {name} -g {name} /dev/stdin /home/{name}/.ssh/authorized_keys",
        ]
        if sudo_nopasswd:
            script.append(
                f"echo '{name} ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/{name}"
                f" && chmod 440 /etc/sudoers.d/{name}"
            )
        self.run(" && ".join(script), input=keys, check=True)
        if password is not None:
            self.run("chpasswd", input=f"{name}:{password}\n", check=True)

    def reload(self) -> None:
        """`service ssh reload` (SIGHUP: same listener PID, re-exec) and wait until the new
        listener serves; raises if the init script's config check refuses the reload."""
        self._service("reload")

    def restart(self) -> None:
        """`service ssh restart` (new listener PID) and wait until it serves."""
        self._service("restart")

    def _service(self, action: str) -> None:
        before, log_from = self.listen_sockets(), len(self.syslog())
        proc = self.run(f"service ssh {action}")
        if proc.returncode != 0:
            raise TestHostError(f"service ssh {action}: {proc.stdout}{proc.stderr}")
        self.wait_listening(before, log_from)

    def changed_paths(self) -> list[str]:
        """Overlay mode: every path written since the image (including the test setup's)."""
        if self.copy_mode != "overlay" or self.state_dir is None:
            raise TestHostError("changed_paths() needs a running overlay-mode host")
        upper = self.state_dir / "upper"
        return sorted("/" + str(p.relative_to(upper)) for p in upper.rglob("*") if not p.is_dir())
