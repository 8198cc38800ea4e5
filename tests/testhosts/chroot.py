"""Real OpenSSH test hosts: a Debian rootfs in a chroot with its own PID and mount namespace.

Each `TestHost` is a small real server (its own /etc/ssh, /etc/passwd, PAM, sudo, init script and
sshd) listening on 127.0.0.1 only, so hardening runs against the same code path as a cloud
instance, minus systemd. Needs root, util-linux (unshare, nsenter, setpriv) and the rootfs cache
that `python -m tests.testhosts build` (`make testhosts`) creates. Here: starting and stopping
a host and its leak guards; its copy is prepared in chroot_stage.py, what a test does with a
running host is chroot_shell.py, the client side probes.py. This module is the chroot hosts'
public API (tests import it from here).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final, Self

from tests.testhosts.chroot_image import (
    COPY_MODES,
    DEFAULT_COPY_MODE,
    EXPECTED_OPENSSH,
    SUITES,
    CopyMode,
    build_rootfs,
    image_openssh_release,
    rootfs_path,
)
from tests.testhosts.chroot_shell import CLEAN_ENV, ChrootShell
from tests.testhosts.chroot_stage import ChrootStaging, public_key_text
from tests.testhosts.loopback import LOOPBACK, PORT_LOCK, PORTS_IN_USE, allocate_port
from tests.testhosts.probes import (
    SSHClientError,
    audit_failures,
    auth_methods,
    server_host_key,
    ssh_audit,
    ssh_command,
    try_login,
    try_password,
)
from tests.testhosts.procs import (
    Lifetime,
    LiveHosts,
    TestHostError,
    alive,
    all_pids,
    in_main_thread,
    proc_stat,
    remove_tree,
    take_over_abandoned,
    wait_gone,
)
from tests.testhosts.syslog import SyslogSink

__all__ = [
    "COPY_MODES",
    "EXPECTED_OPENSSH",
    "LOOPBACK",
    "STATE_DIR",
    "SUITES",
    "CopyMode",
    "SSHClientError",
    "TestHost",
    "TestHostError",
    "allocate_port",
    "audit_failures",
    "auth_methods",
    "build_rootfs",
    "image_openssh_release",
    "reap_stale",
    "rootfs_path",
    "server_host_key",
    "ssh_audit",
    "ssh_command",
    "try_login",
    "try_password",
]

STATE_DIR: Final = Path(os.environ.get("HARDENED_ECS_TESTHOST_DIR", "/var/tmp/hardened-ecs/hosts"))
DEFAULT_ROOT_PASSWORD: Final = "Testhost-root-pw-1"


# --------------------------------------------------------------------------- leak guards


_LIVE: LiveHosts[TestHost] = LiveHosts("testhost")
_REAPED = False


def reap_stale() -> int:
    """Stop hosts and delete state left behind by test processes that died; return the count.

    Hosts normally die with their test process (parent-death signal), so this mostly removes
    overlay upper dirs or copies. An init is killed only if it is still the very process we
    started (same PID *and* start time).
    """
    if not STATE_DIR.is_dir():
        return 0
    reaped = 0
    for d in STATE_DIR.iterdir():
        if not d.is_dir():
            continue
        if take_over_abandoned(d) is None:
            continue
        remove_tree(d)
        reaped += 1
    return reaped


# --------------------------------------------------------------------------- the host


class TestHost(Lifetime, ChrootStaging, ChrootShell):
    """One Debian sshd in its own PID+mount namespace and chroot, on 127.0.0.1:`port`.

    Like a fresh cloud image: root logs in with `authorized_keys`, root's password is set, and
    (cloud_init=True) cloud-init's drop-in allows root and password logins. include=False
    imitates a RHEL-family / Alibaba Cloud Linux image: no `Include` line, everything in
    sshd_config. Host keys are generated fresh per host.

    OpenSSH 9.8+ penalises source addresses (PerSourcePenalties): a few failed logins or ~15
    connections that never authenticate (host key scans, ssh-audit, auth_methods) and
    127.0.0.1, the address of every test connection, is refused for a while. So by default
    the test drop-in exempts 127.0.0.1; source_penalties=True keeps the stock behaviour.

    The image has no syslog daemon: its /dev/log is a socket this process reads (`syslog()`),
    so sshd runs with its stock options and logs as on a real server.
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        suite: str = "bookworm",
        *,
        include: bool = True,
        cloud_init: bool = True,
        port: int | None = None,
        authorized_keys: Sequence[str | Path] = (),
        root_password: str = DEFAULT_ROOT_PASSWORD,
        copy_mode: CopyMode = DEFAULT_COPY_MODE,
        source_penalties: bool = False,
        start_timeout: float = 60.0,
    ) -> None:
        if suite not in SUITES:
            raise ValueError(f"unknown suite {suite!r}; known: {SUITES}")
        self.suite = suite
        self.include = include
        self.cloud_init = cloud_init
        self._requested_port = port
        self.port = port if port is not None else 0
        self.authorized_keys = [public_key_text(k) for k in authorized_keys]
        self.root_password = root_password
        self.copy_mode: CopyMode = copy_mode
        self.source_penalties = source_penalties
        self.start_timeout = start_timeout
        self.banner = ""
        self.state_dir: Path | None = None
        self.init_pid: int | None = None
        self._init_start = 0
        self._pid_ns = ""
        self._unshare: subprocess.Popen[bytes] | None = None
        self._host_keys: dict[str, str] = {}
        self._version: str | None = None
        self._syslog: SyslogSink | None = None

    def __repr__(self) -> str:
        state = f"init={self.init_pid}" if self.init_pid else "stopped"
        return f"TestHost({self.suite}, port={self.port}, {state})"

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        """The host's "/" as its own processes see it (only mounted inside its namespace in
        overlay mode: from outside use `path()`, which works while the host runs)."""
        if self.state_dir is None:
            raise TestHostError("host not started")
        return self.state_dir / "root"

    @property
    def running(self) -> bool:
        return self.init_pid is not None and alive(self.init_pid, self._init_start)

    def start(self) -> Self:
        if self.state_dir is not None:
            raise TestHostError(f"{self!r} already started")
        global _REAPED
        if not _REAPED:
            _REAPED = True
            reap_stale()
        if not self.lower.is_dir():
            raise TestHostError(
                f"no rootfs cache at {self.lower}; run `make testhosts` "
                f"(python -m tests.testhosts build)"
            )
        if self._requested_port is None:
            self.port = allocate_port()
        else:
            with PORT_LOCK:
                PORTS_IN_USE.add(self.port)
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        self.state_dir = Path(tempfile.mkdtemp(prefix=f"{self.suite}-{self.port}-", dir=STATE_DIR))
        _LIVE.add(self)
        try:
            self._write_owner()
            self._prepare()
            self._spawn()
            self.wait_listening()
        except BaseException as exc:
            logs = self._diagnostics()
            with contextlib.suppress(Exception):
                self.stop()
            if isinstance(exc, Exception):  # KeyboardInterrupt & co pass through unchanged
                raise TestHostError(
                    f"{self.suite} host on port {self.port} failed to start: {exc}\n{logs}"
                ) from exc
            raise
        return self

    def stop(self) -> None:
        """SIGKILL the namespace's init (the kernel then kills everything in it), reap it, make
        sure no mount is left and delete the host's copy. Idempotent."""
        try:
            if self.init_pid is not None:
                st = proc_stat(self.init_pid)
                if st is not None and st.start == self._init_start:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(self.init_pid, signal.SIGKILL)
            if self._unshare is not None:
                if self.init_pid is None and self._unshare.poll() is None:
                    # Died between fork and our finding its init: --kill-child follows.
                    self._unshare.kill()
                self._unshare.wait(timeout=60)
            if self.init_pid is not None:
                wait_gone(self.init_pid, self._init_start)
                self._wait_namespace_empty()
            if self._syslog is not None:
                self._syslog.close()
            if self.state_dir is not None:
                remove_tree(self.state_dir)
        finally:
            self._syslog = None
            self.init_pid = None
            self._unshare = None
            self.state_dir = None
            _LIVE.discard(self)
            with PORT_LOCK:
                PORTS_IN_USE.discard(self.port)

    # -- the state directory ------------------------------------------------------------------

    def _write_owner(self, **extra: int) -> None:
        assert self.state_dir is not None
        me = proc_stat(os.getpid())
        record = {"owner_pid": os.getpid(), "owner_start": me.start if me else 0, **extra}
        tmp = self.state_dir / "owner.json.tmp"
        tmp.write_text(json.dumps(record))
        tmp.rename(self.state_dir / "owner.json")

    # -- running -----------------------------------------------------------------------------

    def _spawn(self) -> None:
        assert self.state_dir is not None
        sd = self.state_dir
        # Runs as the namespace's init (PID 1), first with the host's tools, then exec-chroots
        # into the image, so the init PID stays the same. Mounts are private to the namespace.
        outer = (
            "set -e\n"
            'if [ "$1" = overlay ]; then\n'
            '  mount -t overlay overlay -o "lowerdir=$2,upperdir=$3,workdir=$4" "$5"\n'
            "fi\n"
            'mount -t proc -o nosuid,nodev,noexec proc "$5/proc"\n'
            # A private devpts so `ssh -t` and sudo get a tty, as on a real server.
            'mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$5/dev/pts"\n'
            'mount --bind "$5/dev/pts/ptmx" "$5/dev/ptmx"\n'
            # The image has no syslog daemon: its /dev/log is our _SyslogSink's socket.
            ': > "$5/dev/log"\n'
            'mount --bind "$6" "$5/dev/log"\n'
            'exec chroot "$5" /bin/sh /usr/local/sbin/testhost-init\n'
        )
        inner = (
            "#!/bin/sh\n"
            "mkdir -p -m0755 /run/sshd\n"
            'echo "root:$TESTHOST_ROOT_PASSWORD" | chpasswd || exit 1\n'
            "unset TESTHOST_ROOT_PASSWORD\n"
            "service ssh start || exit 1\n"
            # Like a real init, reap orphans (sshd's privsep children end up here): dash's
            # `wait` collects any child, where `exec sleep infinity` would collect zombies.
            "while :; do sleep infinity & wait; done\n"
        )
        # A script file, not `sh -c`, so the init's command line never mentions sshd (an engine
        # looking for sshd with `pgrep -f` must not find PID 1).
        self._stage_file("usr/local/sbin/testhost-init", inner, 0o755)
        cmd = ["unshare", "--pid", "--mount", "--fork", "--kill-child", "--propagation", "private"]
        if in_main_thread():
            # If the test process dies (even by SIGKILL), unshare gets SIGKILL and --kill-child
            # takes the init with it (from a worker thread, atexit and reap_stale() remain).
            cmd = ["setpriv", "--pdeathsig", "KILL", "--", *cmd]
        cmd += [
            "/bin/sh",
            "-c",
            outer,
            "testhost-init",
            self.copy_mode,
            str(self.lower),
            str(sd / "upper"),
            str(sd / "work"),
            str(sd / "root"),
            str(sd / "syslog.sock"),
        ]
        self._syslog = SyslogSink(sd / "syslog.sock", sd / "syslog.log")
        with open(sd / "init.log", "wb") as log:
            self._unshare = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**CLEAN_ENV, "TESTHOST_ROOT_PASSWORD": self.root_password},
                start_new_session=True,  # = setsid: a Ctrl-C to pytest's group doesn't hit it
            )
        # The init is unshare's only child.
        deadline = time.monotonic() + self.start_timeout
        while True:
            for pid in all_pids():
                st = proc_stat(pid)
                if st is not None and st.ppid == self._unshare.pid:
                    self.init_pid, self._init_start = pid, st.start
                    break
            if self.init_pid is not None:
                break
            if self._unshare.poll() is not None:
                raise TestHostError(f"unshare exited with {self._unshare.returncode}")
            if time.monotonic() > deadline:
                raise TestHostError("unshare never forked its init")
            time.sleep(0.002)
        self._pid_ns = os.readlink(f"/proc/{self.init_pid}/ns/pid")
        self._write_owner(init_pid=self.init_pid, init_start=self._init_start)

    def _wait_namespace_empty(self, limit: float = 60.0) -> None:
        # The kernel kills the namespace's processes with its init, but under load (a CI
        # machine with every core busy) reaping a dozen of them once took longer than 30 s.
        deadline = time.monotonic() + limit
        while pids := self.namespace_pids():
            if time.monotonic() > deadline:
                seen = [f"{pid} {_state_and_name(pid)}" for pid in pids]
                raise TestHostError(f"processes survive in {self._pid_ns}: {seen}")
            time.sleep(0.01)

    def namespace_pids(self) -> list[int]:
        """Host-side PIDs of live processes in this host's PID namespace (empty once stopped)."""
        if not self._pid_ns:
            return []
        pids = []
        for pid in all_pids():
            try:
                if os.readlink(f"/proc/{pid}/ns/pid") != self._pid_ns:
                    continue
            except OSError:
                continue
            st = proc_stat(pid)
            if st is not None and st.state != "Z":
                pids.append(pid)
        return pids

    def _diagnostics(self) -> str:
        parts = []
        if self.state_dir is not None and (self.state_dir / "init.log").exists():
            parts.append("init.log:\n" + (self.state_dir / "init.log").read_text(errors="replace"))
        with contextlib.suppress(Exception):
            parts.append("syslog:\n" + self.syslog())
        return "\n".join(parts)


def _state_and_name(pid: int) -> str:
    """'D (sshd)': what a survivor was doing, for the message (D: stuck in the kernel)."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "(gone)"
    return f"{data[data.rindex(')') + 2]} {data[data.index('(') : data.rindex(')') + 1]}"
