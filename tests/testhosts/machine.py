"""systemd-booted test hosts: systemd-nspawn over an overlay of a cached rootfs.

Each `SystemdHost` is a small real server: systemd as PID 1 (with logind, journald and D-Bus),
its own cgroup, its own network namespace with one address on this process's bridge
(tests/testhosts/network.py), and sshd on port 22 of that address only. The cache is never
written: the host's changes live in an overlay's upper directory and go with it.

Stopping is by PID only: SIGKILL to the container's PID 1 (its PID namespace dies with it;
killing nspawn alone leaves the container running), then the overlay, the cgroups and nspawn's
propagation directory are removed. A host whose test process died is reaped by the next start
(atexit and a parent-death SIGTERM to nspawn, a clean poweroff, cover the usual cases).

This module boots and stops; commands inside a host are tests/testhosts/machine_shell.py, the
clean-up and reaping tests/testhosts/machine_reap.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final, Self

from tests.testhosts import network
from tests.testhosts.machine_reap import (
    CGROUP_NAME,
    CGROUP_ROOTS,
    NAME_PREFIX,
    PROPAGATE_DIR,
    STATE_DIR,
    cleanup,
    kill_cgroup,
    owner_record,
    reap_stale,
)
from tests.testhosts.machine_shell import ENV, MachineShell
from tests.testhosts.procs import (
    Lifetime,
    LiveHosts,
    TestHostError,
    children,
    proc_stat,
    wait_gone,
)
from tests.testhosts.rootfs import Image

# Imported from here by the tests and fixtures (tests/testhosts/machine_reap.py holds them).
__all__ = ["CGROUP_NAME", "CGROUP_ROOTS", "PROPAGATE_DIR", "SystemdHost", "reap_stale"]

# Suites whose systemd no longer boots on a cgroup v1 (legacy/hybrid) machine.
UNIFIED_CGROUP_ONLY: Final = frozenset({"forky"})
REBOOT_EXIT: Final = 133  # nspawn's exit code when the container asked for a reboot

# Like a fresh cloud image before hardening: cloud-init's drop-in lets root and passwords in.
CLOUD_DROPIN: Final = "PermitRootLogin yes\nPasswordAuthentication yes\n"
# logind killing what a session leaves behind; KillExcludeUsers= empty would still spare root.
KILL_USER_PROCESSES: Final = "[Login]\nKillUserProcesses=yes\nKillExcludeUsers=nobody\n"

_LIVE: LiveHosts[SystemdHost] = LiveHosts("testhosts")
_COUNTER = iter(range(1, 10_000))
_REAPED = False


class SystemdHost(MachineShell, Lifetime):
    """One systemd-booted Debian host at its own address on this process's bridge.

    Variants real images have: `socket_activated` (ssh.socket enabled, ssh.service disabled,
    as Ubuntu 22.10+ ships), `kill_user_processes` (logind kills what an SSH session leaves),
    `include=False` (no Include line: RHEL-family style sshd_config). `cloud_dropin` imitates
    cloud-init's sshd drop-in; an `Image(..., cloud_init=True)` host gets `user_data` as a
    NoCloud seed and lets the real cloud-init do its first boot instead.
    """

    __test__ = False

    def __init__(
        self,
        image: Image | str = "trixie",
        *,
        authorized_keys: Sequence[str] = (),
        socket_activated: bool = False,
        kill_user_processes: bool = False,
        include: bool = True,
        cloud_dropin: bool = True,
        user_data: str | None = None,
        cloud_init_delay: float = 0,
        boot_timeout: float = 90.0,
    ) -> None:
        self.image = image if isinstance(image, Image) else Image(image)
        if user_data is not None and not self.image.cloud_init:
            raise ValueError("user_data needs an image with cloud-init")
        self.authorized_keys = [k.strip() for k in authorized_keys]
        self.socket_activated = socket_activated
        self.kill_user_processes = kill_user_processes
        self.include = include
        self.cloud_dropin = cloud_dropin and not self.image.cloud_init
        self.user_data = user_data
        self.cloud_init_delay = cloud_init_delay
        self.boot_timeout = boot_timeout
        self.bridge = network.bridge()
        self.address = self.bridge.host_address()
        self.name = f"{NAME_PREFIX}{self.bridge.index}-{next(_COUNTER)}"
        self.state_dir: Path | None = None
        self.init_pid: int | None = None
        self._init_start = 0
        self._nspawn: subprocess.Popen[bytes] | None = None
        self.boots = 0

    def __repr__(self) -> str:
        state = f"init={self.init_pid}" if self.init_pid else "stopped"
        return f"SystemdHost({self.image.name}, {self.address}, {state})"

    @property
    def suite(self) -> str:
        return self.image.suite

    @property
    def root(self) -> Path:
        """The merged overlay (the host's "/"), also readable from outside."""
        assert self.state_dir is not None
        return self.state_dir / "root"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, *, wait: bool = True) -> Self:
        """Boot; `wait` until systemd finished starting up (else only until PID 1 runs and
        the network is set: a first boot may still be under way)."""
        global _REAPED
        if self.state_dir is not None:
            raise TestHostError(f"{self!r} already started")
        if not _REAPED:
            _REAPED = True
            reap_stale()
        if not self.image.path.is_dir():
            raise TestHostError(f"no rootfs cache at {self.image.path}; run `make testhosts`")
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        self.state_dir = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=STATE_DIR))
        _LIVE.add(self)
        try:
            self._write_owner()
            self._mount_overlay()
            self._prepare()
            self._boot(wait=wait)
        except BaseException as exc:
            logs = self._diagnostics()
            with contextlib.suppress(Exception):
                self.stop()
            if isinstance(exc, Exception):
                raise TestHostError(f"{self.name} failed to start: {exc}\n{logs}") from exc
            raise
        return self

    def stop(self) -> None:
        """Kill the container's PID 1, reap nspawn, remove overlay, cgroups and state."""
        try:
            self._kill_container()
            if self.state_dir is not None:
                cleanup(self.name, self.state_dir)
        finally:
            self.state_dir = None
            _LIVE.discard(self)

    def _kill_container(self) -> None:
        if self.init_pid is not None:
            st = proc_stat(self.init_pid)
            if st is not None and st.start == self._init_start:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.init_pid, signal.SIGKILL)
            wait_gone(self.init_pid, self._init_start)
        if self._nspawn is not None:
            if self.init_pid is None and self._nspawn.poll() is None:
                self._nspawn.kill()  # died before its container started
            try:
                self._nspawn.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._nspawn.kill()
                self._nspawn.wait(timeout=30)
        self.init_pid = None
        self._nspawn = None

    def reboot(self) -> None:
        """`systemctl reboot` inside; nspawn exits 133 (--keep-unit) and is started again."""
        assert self._nspawn is not None
        self.run("systemctl reboot", timeout=30)
        rc = self._nspawn.wait(timeout=self.boot_timeout)
        if rc != REBOOT_EXIT:
            raise TestHostError(f"nspawn exited {rc} on reboot, not {REBOOT_EXIT}")
        if self.init_pid is not None:
            wait_gone(self.init_pid, self._init_start)
        self.init_pid, self._nspawn = None, None
        self._boot()

    # -- preparing ---------------------------------------------------------------------------

    def _write_owner(self, **extra: int) -> None:
        assert self.state_dir is not None
        record = {**owner_record(), "name": self.name, **extra}
        tmp = self.state_dir / "owner.json.tmp"
        tmp.write_text(json.dumps(record))
        tmp.rename(self.state_dir / "owner.json")

    def _mount_overlay(self) -> None:
        assert self.state_dir is not None
        for sub in ("upper", "work", "root"):
            (self.state_dir / sub).mkdir(mode=0o755)
        sd = self.state_dir
        opts = f"lowerdir={self.image.path},upperdir={sd}/upper,workdir={sd}/work"
        subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o", opts, str(self.root)],
            check=True,
            capture_output=True,
        )

    def write(self, rel: str, text: str, mode: int = 0o644) -> None:
        """Write a file into the host's "/" (through the overlay), root-owned."""
        path = self.root / rel.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            os.write(fd, text.encode())
            os.fchmod(fd, mode)
            os.fchown(fd, 0, 0)
        finally:
            os.close(fd)

    def _systemctl_offline(self, *args: str) -> None:
        subprocess.run(["systemctl", f"--root={self.root}", *args], check=True, capture_output=True)

    def _prepare(self) -> None:
        self.write("etc/hostname", f"{self.name}\n")
        self.write("etc/hosts", f"127.0.0.1 localhost\n127.0.1.1 {self.name}\n")
        if self.image.cloud_init:
            self._seed()
        else:
            # A host of its own: fresh host keys (trixie's keygen only runs on a first boot).
            subprocess.run(
                ["ssh-keygen", "-A", "-f", str(self.root)], check=True, capture_output=True
            )
            (self.root / "root/.ssh").mkdir(mode=0o700, exist_ok=True)
            self.write(
                "root/.ssh/authorized_keys", "".join(k + "\n" for k in self.authorized_keys), 0o600
            )
        if self.cloud_dropin and self.include:
            self.write("etc/ssh/sshd_config.d/50-cloud-init.conf", CLOUD_DROPIN)
        if not self.include:
            main = (self.root / "etc/ssh/sshd_config").read_text()
            kept = [ln for ln in main.splitlines() if not re.match(r"\s*Include\s", ln, re.I)]
            head = CLOUD_DROPIN if self.cloud_dropin else ""
            self.write("etc/ssh/sshd_config", head + "\n".join(kept) + "\n")
        if self.socket_activated:
            self._systemctl_offline("disable", "ssh.service")
            self._systemctl_offline("enable", "ssh.socket")
        if self.kill_user_processes:
            self.write("etc/systemd/logind.conf.d/50-testhost.conf", KILL_USER_PROCESSES)

    def _seed(self) -> None:
        """A NoCloud seed as a cloud passes it: meta-data (instance id, host name, the key
        pair's public keys, which cloud-init puts in root's authorized_keys) and user data."""
        seed = "var/lib/cloud/seed/nocloud"
        keys = "".join(f"  - {json.dumps(k)}\n" for k in self.authorized_keys)
        meta = f"instance-id: {self.name}\nlocal-hostname: {self.name}\npublic-keys:\n{keys}"
        self.write(f"{seed}/meta-data", meta)
        self.write(f"{seed}/user-data", self.user_data or "#cloud-config\n{}\n")
        # cloud-init's network stage would configure host0 by DHCP: ours is set from outside.
        # Root logs in with the key pair, as on Alibaba's images (Debian's default refuses).
        self.write(
            "etc/cloud/cloud.cfg.d/91-testhost.cfg",
            "network: {config: disabled}\ndisable_root: false\n",
        )
        if self.cloud_init_delay:
            # A slow config stage (the one that writes cloud-init's sshd drop-in and restarts
            # sshd): an apply can start while cloud-init is still running.
            self.write(
                "etc/systemd/system/cloud-config.service.d/50-testhost-slow.conf",
                f"[Service]\nExecStartPre=/bin/sleep {self.cloud_init_delay:g}\n",
            )

    # -- booting -----------------------------------------------------------------------------

    def _cgroups(self) -> list[Path]:
        # The name is ours (our bridge's index): anything left under it is from a dead run.
        kill_cgroup(CGROUP_ROOTS[0] / CGROUP_NAME / self.name)
        made = []
        for root in CGROUP_ROOTS:
            if root.is_dir():
                d = root / CGROUP_NAME / self.name
                d.mkdir(parents=True, exist_ok=True)
                made.append(d)
        return made

    def _boot(self, *, wait: bool = True) -> None:
        assert self.state_dir is not None
        # Its own cgroup first: two hosts sharing unit cgroups confuse their systemds.
        subprocess.run(["ip", "link", "del", f"vb-{self.name}"], capture_output=True, check=False)
        procs = " ".join(shlex.quote(str(d / "cgroup.procs")) for d in self._cgroups())
        nspawn = [
            "systemd-nspawn",
            "--boot",
            "--register=no",
            "--keep-unit",  # no systemd/D-Bus on this machine to register with
            "--console=read-only",
            f"--machine={self.name}",
            f"--directory={self.root}",
            f"--network-bridge={self.bridge.name}",
        ]
        script = f'for f in {procs}; do echo $$ > "$f"; done; exec "$@"'
        cmd = ["sh", "-c", script, "launch"]
        # If the test process dies, nspawn gets SIGTERM: a clean poweroff of the container.
        if threading.current_thread() is threading.main_thread():
            cmd += ["setpriv", "--pdeathsig", "TERM", "--"]
        cmd += nspawn
        env = dict(ENV)
        if self.image.suite in UNIFIED_CGROUP_ONLY:
            # systemd 256+ refuses the legacy hierarchy this machine has: give the container
            # the cgroup2 one (no controllers on it here: no resource control inside).
            env["SYSTEMD_NSPAWN_UNIFIED_HIERARCHY"] = "1"
        log = open(self.state_dir / "console.log", "ab")  # noqa: SIM115 - handed to nspawn
        with log:
            self._nspawn = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.boot_timeout
        own_ns = os.readlink("/proc/self/ns/pid")
        while self.init_pid is None:
            # nspawn's first child is short-lived; PID 1 is the child in a new PID namespace.
            for pid in children(self._nspawn.pid):
                st = proc_stat(pid)
                with contextlib.suppress(OSError):
                    if st is not None and os.readlink(f"/proc/{pid}/ns/pid") != own_ns:
                        self.init_pid, self._init_start = pid, st.start
            if self._nspawn.poll() is not None:
                raise TestHostError(f"systemd-nspawn exited {self._nspawn.returncode}")
            if time.monotonic() > deadline:
                raise TestHostError("systemd-nspawn never started its container")
            time.sleep(0.02)
        self._write_owner(init_pid=self.init_pid, init_start=self._init_start)
        self._configure_network(deadline)
        self.boots += 1
        if wait:
            self.wait_booted(deadline - time.monotonic())

    def _configure_network(self, deadline: float) -> None:
        # host0 appears once nspawn moved the veth in; its address is set from outside, so a
        # reboot (a new namespace) gets the same one again.
        gw = self.bridge.gateway
        script = (
            "while ! ip link show host0 >/dev/null 2>&1; do sleep 0.05; done; "
            f"ip addr add {self.address}/24 dev host0 && ip link set host0 up && "
            f"ip link set lo up && ip route replace default via {gw}"
        )
        left = max(1.0, deadline - time.monotonic())
        proc = self.nsenter(["sh", "-c", script], namespaces=("--net",), timeout=left)
        if proc.returncode != 0:
            raise TestHostError(f"network setup in {self.name}: {proc.stderr.strip()}")

    def wait_booted(self, timeout: float | None = None) -> str:
        """Wait until systemd finished starting up; returns `running` or `degraded`."""
        limit = timeout if timeout is not None else self.boot_timeout
        deadline = time.monotonic() + max(limit, 1.0)
        while True:
            proc = self.run("systemctl is-system-running --wait", timeout=max(limit, 1.0))
            state = proc.stdout.strip()
            if state in ("running", "degraded"):
                return state
            if time.monotonic() > deadline:
                raise TestHostError(f"{self.name} did not finish booting: {state!r}")
            time.sleep(0.2)

    # -- diagnostics (in-host commands: tests/testhosts/machine_shell.py) ---------------------

    def _diagnostics(self) -> str:
        if self.state_dir is None:
            return ""
        log = self.state_dir / "console.log"
        return log.read_text(errors="replace")[-4000:] if log.exists() else ""
