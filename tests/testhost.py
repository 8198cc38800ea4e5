"""Real OpenSSH test hosts: a Debian rootfs in a chroot with its own PID and mount namespace.

Each `TestHost` is a small real server (its own /etc/ssh, /etc/passwd, PAM, sudo, init script and
sshd) listening on 127.0.0.1 only, so hardening runs against the same code path as a cloud
instance, minus systemd. Needs root, util-linux (unshare, nsenter, setpriv) and the rootfs cache
that `python -m tests.testhost build` (`make testhosts`) creates.

CLI: `python -m tests.testhost build [SUITE...]` · `reap` · `serve SUITE` · `bench`.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import fcntl
import functools
import json
import os
import random
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Self

import paramiko

SUITES: Final = ("bullseye", "bookworm", "trixie")
# What each suite ships (checked on this machine); tests assert it so a mirror change shows up.
EXPECTED_OPENSSH: Final = {"bullseye": "8.4", "bookworm": "9.2", "trixie": "10.0"}

CACHE_DIR: Final = Path(
    os.environ.get("HARDENED_ECS_ROOTFS_CACHE", "/var/cache/hardened-ecs/rootfs")
)
STATE_DIR: Final = Path(os.environ.get("HARDENED_ECS_TESTHOST_DIR", "/var/tmp/hardened-ecs/hosts"))
MIRROR: Final = os.environ.get("HARDENED_ECS_DEBIAN_MIRROR", "http://deb.debian.org/debian")
DEFAULT_ROOT_PASSWORD: Final = "Testhost-root-pw-1"
LOOPBACK: Final = "127.0.0.1"

CopyMode = Literal["overlay", "copy", "reflink"]
COPY_MODES: Final[tuple[CopyMode, ...]] = ("overlay", "copy", "reflink")
# overlay: measured ~0.3-0.5 s copy+start+stop per host vs 1-2 s for `cp -a` of 240 MB (ext4 has
# no reflink, so --reflink=auto is a plain, slightly slower copy). The overlay is mounted inside
# the host's own mount namespace, so it vanishes with the namespace and can never leak a mount.
DEFAULT_COPY_MODE: Final[CopyMode] = (
    "copy" if os.environ.get("HARDENED_ECS_TESTHOST_COPY") == "copy" else "overlay"
)

_CLEAN_ENV: Final = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C",
    "TERM": "dumb",
}


class TestHostError(RuntimeError):
    """A test host could not be built, started or stopped."""

    __test__ = False


class SSHClientError(RuntimeError):
    """The ssh client failed for a reason other than rejected authentication."""


# --------------------------------------------------------------------------- /proc helpers


@dataclass(frozen=True)
class _ProcStat:
    state: str
    ppid: int
    start: int  # clock ticks since boot: (pid, start) names a process even after PID reuse


def _proc_stat(pid: int) -> _ProcStat | None:
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm (field 2) may contain spaces and parentheses: split after the last ')'.
    rest = data[data.rindex(")") + 2 :].split()
    return _ProcStat(state=rest[0], ppid=int(rest[1]), start=int(rest[19]))


def _alive(pid: int, start: int) -> bool:
    st = _proc_stat(pid)
    return st is not None and st.start == start and st.state != "Z"


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _mounts_under(path: Path) -> list[str]:
    """Mount points at or below `path` visible in this mount namespace, deepest first."""
    prefix = str(path).rstrip("/")
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        # Mount points escape spaces as \040; our paths never contain any.
        target = line.split()[1]
        if target == prefix or target.startswith(prefix + "/"):
            found.append(target)
    return sorted(found, key=len, reverse=True)


def _unmount_all_under(path: Path) -> None:
    for target in _mounts_under(path):
        subprocess.run(["umount", "-l", target], check=False, capture_output=True)
    left = _mounts_under(path)
    if left:
        raise TestHostError(f"still mounted, refusing to delete {path}: {left}")


def _remove_tree(path: Path) -> None:
    if not path.exists():
        return
    # Never let rmtree walk into a live /proc or /sys (an interrupted debootstrap leaves them).
    _unmount_all_under(path)
    shutil.rmtree(path)


# --------------------------------------------------------------------------- rootfs cache


def _in_main_thread() -> bool:
    # A parent-death signal fires when the forking *thread* exits, so only the main thread
    # can use it without surprises.
    return threading.current_thread() is threading.main_thread()


def rootfs_path(suite: str) -> Path:
    return CACHE_DIR / suite


@functools.cache
def image_openssh_release(suite: str) -> tuple[int, int]:
    """(major, minor) of the image's openssh-server package, read without starting it."""
    status = (rootfs_path(suite) / "var/lib/dpkg/status").read_text()
    pattern = r"^Package: openssh-server\n(?:.+\n)*?Version: (?:\d+:)?(\d+)\.(\d+)"
    m = re.search(pattern, status, re.MULTILINE)
    if m is None:
        raise TestHostError(f"no openssh-server package in the {suite} image")
    return int(m.group(1)), int(m.group(2))


def _finalize_rootfs(root: Path) -> None:
    # sshd -t/-T refuse to run without the privilege separation directory.
    run_sshd = root / "run" / "sshd"
    run_sshd.mkdir(mode=0o755, parents=True, exist_ok=True)
    run_sshd.chmod(0o755)


def build_rootfs(suite: str, *, mirror: str = MIRROR) -> Path:
    """Return the pristine rootfs for `suite`, building it with debootstrap if it is missing.

    Builds into a temporary directory next to the cache and renames it into place, so an
    interrupted build is never mistaken for a finished one.
    """
    target = rootfs_path(suite)
    if target.is_dir():
        if not (target / "run" / "sshd").is_dir():  # a cache made by hand with debootstrap
            _finalize_rootfs(target)
        return target
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / f".{suite}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another make/pytest may be building the same suite
        if target.is_dir():
            return target
        for stale in CACHE_DIR.glob(f".{suite}.building-*"):  # a build that was killed
            if stale.is_dir():
                _remove_tree(stale)
            else:
                stale.unlink()
        tmp = Path(tempfile.mkdtemp(prefix=f".{suite}.building-", dir=CACHE_DIR))
        tmp.chmod(0o755)  # becomes "/" in the chroot; mkdtemp's 0700 would lock out sshd's users
        log = tmp.with_name(tmp.name + ".log")
        cmd = [
            # Dies with the builder (the calling thread blocks until debootstrap exits).
            *("setpriv", "--pdeathsig", "KILL", "--"),
            "debootstrap",
            "--variant=minbase",
            "--include=openssh-server,sudo",
            suite,
            str(tmp),
            mirror,
        ]
        try:
            with open(log, "w") as out:
                proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
            if proc.returncode != 0:
                tail = "".join(log.read_text(errors="replace").splitlines(True)[-30:])
                raise TestHostError(f"debootstrap {suite} failed ({proc.returncode}):\n{tail}")
            _unmount_all_under(tmp)  # debootstrap unmounts proc/sys itself; be sure
            _finalize_rootfs(tmp)
            tmp.rename(target)
        except BaseException:
            _remove_tree(tmp)
            raise
        finally:
            log.unlink(missing_ok=True)
    return target


# --------------------------------------------------------------------------- ports


_PORT_LOCK = threading.Lock()
_PORTS_IN_USE: set[int] = set()


def _port_range() -> range:
    # Stay below the kernel's ephemeral range so client sockets never take a host's port.
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    top = max(min(low, 32768), 12000)
    return range(top - 10000, top)


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def allocate_port() -> int:
    """A free TCP port on 127.0.0.1 that no other host of this process holds."""
    ports = _port_range()
    start = random.randrange(len(ports))  # spread parallel test sessions apart
    with _PORT_LOCK:
        for i in range(len(ports)):
            port = ports[(start + i) % len(ports)]
            if port not in _PORTS_IN_USE and _port_is_free(port):
                _PORTS_IN_USE.add(port)
                return port
    raise TestHostError("no free port on 127.0.0.1")


# --------------------------------------------------------------------------- leak guards


_LIVE: set[TestHost] = set()
_LIVE_LOCK = threading.Lock()
_REAPED = False


def _stop_all_live() -> None:
    with _LIVE_LOCK:
        hosts = list(_LIVE)
    for host in hosts:
        try:
            host.stop()
        except Exception as exc:  # keep stopping the others
            print(f"testhost: stopping {host!r} failed: {exc}", file=sys.stderr)


atexit.register(_stop_all_live)


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
        try:
            owner = json.loads((d / "owner.json").read_text())
        except (OSError, ValueError):
            # Being created right now by someone else, or garbage from a crash long ago.
            if time.time() - d.stat().st_mtime < 600:
                continue
            owner = {}
        if owner and _alive(int(owner["owner_pid"]), int(owner["owner_start"])):
            continue
        if owner.get("init_pid") and _alive(int(owner["init_pid"]), int(owner["init_start"])):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(owner["init_pid"]), signal.SIGKILL)
            _wait_gone(int(owner["init_pid"]), int(owner["init_start"]))
        _remove_tree(d)
        reaped += 1
    return reaped


def _wait_gone(pid: int, start: int, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while _alive(pid, start):
        if time.monotonic() > deadline:
            raise TestHostError(f"pid {pid} survived SIGKILL")
        time.sleep(0.01)


# --------------------------------------------------------------------------- the host


def _key_type_of(path: Path) -> str:
    # ssh_host_ed25519_key -> ed25519
    return path.name.removeprefix("ssh_host_").removesuffix("_key")


def _public_key_text(key: str | Path) -> str:
    """A public key line from its text, its .pub file, or its private key's path."""
    if isinstance(key, str):
        return key.strip()
    pub = key if key.name.endswith(".pub") else key.with_name(key.name + ".pub")
    text = pub.read_text().strip()
    if "PRIVATE KEY" in text:
        raise ValueError(f"{pub} is a private key")
    return text


def _set_option(lines: list[str], key: str, value: str) -> None:
    """Set `key value` in a main sshd_config the way a distribution would: uncomment the shipped
    default line in place, else insert before the first Match block (or at the end)."""
    active = re.compile(rf"^\s*{key}\s", re.IGNORECASE)
    commented = re.compile(rf"^\s*#\s*{key}\s", re.IGNORECASE)
    for pattern in (active, commented):
        for i, line in enumerate(lines):
            if pattern.match(line):
                lines[i] = f"{key} {value}"
                return
    for i, line in enumerate(lines):
        if re.match(r"^\s*Match\s", line, re.IGNORECASE):
            lines.insert(i, f"{key} {value}")
            return
    lines.append(f"{key} {value}")


class _SyslogSink:
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


class TestHost:
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
        self.authorized_keys = [_public_key_text(k) for k in authorized_keys]
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
        self._syslog: _SyslogSink | None = None

    def __repr__(self) -> str:
        state = f"init={self.init_pid}" if self.init_pid else "stopped"
        return f"TestHost({self.suite}, port={self.port}, {state})"

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def lower(self) -> Path:
        return rootfs_path(self.suite)

    @property
    def root(self) -> Path:
        """The host's "/" as its own processes see it (only mounted inside its namespace in
        overlay mode: from outside use `path()`, which works while the host runs)."""
        if self.state_dir is None:
            raise TestHostError("host not started")
        return self.state_dir / "root"

    @property
    def running(self) -> bool:
        return self.init_pid is not None and _alive(self.init_pid, self._init_start)

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
                f"(python -m tests.testhost build)"
            )
        if self._requested_port is None:
            self.port = allocate_port()
        else:
            with _PORT_LOCK:
                _PORTS_IN_USE.add(self.port)
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        self.state_dir = Path(tempfile.mkdtemp(prefix=f"{self.suite}-{self.port}-", dir=STATE_DIR))
        with _LIVE_LOCK:
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
                st = _proc_stat(self.init_pid)
                if st is not None and st.start == self._init_start:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(self.init_pid, signal.SIGKILL)
            if self._unshare is not None:
                if self.init_pid is None and self._unshare.poll() is None:
                    # Died between fork and our finding its init: --kill-child follows.
                    self._unshare.kill()
                self._unshare.wait(timeout=60)
            if self.init_pid is not None:
                _wait_gone(self.init_pid, self._init_start)
                self._wait_namespace_empty()
            if self._syslog is not None:
                self._syslog.close()
            if self.state_dir is not None:
                _remove_tree(self.state_dir)
        finally:
            self._syslog = None
            self.init_pid = None
            self._unshare = None
            self.state_dir = None
            with _LIVE_LOCK:
                _LIVE.discard(self)
            with _PORT_LOCK:
                _PORTS_IN_USE.discard(self.port)

    def __enter__(self) -> Self:
        if self.state_dir is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- preparing the copy ------------------------------------------------------------------

    def _write_owner(self, **extra: int) -> None:
        assert self.state_dir is not None
        me = _proc_stat(os.getpid())
        record = {"owner_pid": os.getpid(), "owner_start": me.start if me else 0, **extra}
        tmp = self.state_dir / "owner.json.tmp"
        tmp.write_text(json.dumps(record))
        tmp.rename(self.state_dir / "owner.json")

    @property
    def _write_root(self) -> Path:
        assert self.state_dir is not None
        return self.state_dir / ("upper" if self.copy_mode == "overlay" else "root")

    def _stage_dir(self, rel: str, mode: int | None = None) -> Path:
        """Create directory `rel` in the writable layer. Directories the image has get the
        image's mode and owner (in overlay mode the upper directory's attributes win)."""
        dest = self._write_root / rel
        parts = Path(rel).parts
        for i in range(1, len(parts) + 1):
            sub = Path(*parts[:i])
            d = self._write_root / sub
            if d.is_dir():
                continue
            d.mkdir()
            src = self.lower / sub
            if src.is_dir():
                st = src.stat()
                os.chown(d, st.st_uid, st.st_gid)
                d.chmod(st.st_mode & 0o7777)
            else:
                d.chmod(mode if mode is not None and i == len(parts) else 0o755)
        return dest

    def _stage_file(self, rel: str, data: str | bytes, mode: int) -> None:
        dest = self._stage_dir(str(Path(rel).parent)) / Path(rel).name
        dest.unlink(missing_ok=True)
        raw = data.encode() if isinstance(data, str) else data
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            os.write(fd, raw)
            os.fchmod(fd, mode)  # umask-proof
            os.fchown(fd, 0, 0)
        finally:
            os.close(fd)

    def _prepare(self) -> None:
        assert self.state_dir is not None
        keydir = self.state_dir / "hostkeys"
        keydir.mkdir(mode=0o700)
        key_files = sorted(self.lower.glob("etc/ssh/ssh_host_*_key"))
        comment = f"root@testhost-{self.suite}"
        # Fresh host keys, generated concurrently with the copy (RSA 3072 takes ~0.2-1 s).
        keygens = []
        for f in key_files:
            kind = _key_type_of(f)
            bits = ["-b", "3072"] if kind == "rsa" else []
            dest = str(keydir / f.name)
            keygens.append(
                subprocess.Popen(
                    ["ssh-keygen", "-q", "-N", "", "-t", kind, *bits, "-C", comment, "-f", dest],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
            )
        if self.copy_mode == "overlay":
            for sub in ("upper", "work", "root"):
                (self.state_dir / sub).mkdir(mode=0o755)
            # The merged "/" takes the upper root's attributes.
            (self.state_dir / "upper").chmod(self.lower.stat().st_mode & 0o7777)
        else:
            reflink = ["--reflink=auto"] if self.copy_mode == "reflink" else []
            subprocess.run(
                ["cp", "-a", *reflink, str(self.lower), str(self.state_dir / "root")],
                check=True,
                capture_output=True,
            )

        # A real server resolves its own name from /etc/hosts; the debootstrap image has none,
        # so every sudo would ask DNS (and concurrent look-ups stall 5 s on this network).
        # The host shares this machine's UTS namespace, hence its name.
        name = socket.gethostname()
        self._stage_file("etc/hosts", f"127.0.0.1 localhost\n127.0.1.1 {name}\n", 0o644)
        listen = {"Port": str(self.port), "ListenAddress": LOOPBACK}
        if not self.source_penalties and image_openssh_release(self.suite) >= (9, 8):
            listen["PerSourcePenaltyExemptList"] = LOOPBACK
        cloud = {"PermitRootLogin": "yes", "PasswordAuthentication": "yes"}
        if self.include:
            self._stage_file(
                "etc/ssh/sshd_config.d/10-testhost.conf",
                "".join(f"{k} {v}\n" for k, v in listen.items()),
                0o644,
            )
            if self.cloud_init:
                self._stage_file(
                    "etc/ssh/sshd_config.d/50-cloud-init.conf",
                    "".join(f"{k} {v}\n" for k, v in cloud.items()),
                    0o644,
                )
        else:
            lines = (self.lower / "etc/ssh/sshd_config").read_text().splitlines()
            lines = [ln for ln in lines if not re.match(r"^\s*Include\s", ln, re.IGNORECASE)]
            for k, v in {**listen, **(cloud if self.cloud_init else {})}.items():
                _set_option(lines, k, v)
            self._stage_file("etc/ssh/sshd_config", "\n".join(lines) + "\n", 0o644)
        self._stage_dir("root/.ssh", 0o700)
        self._stage_file(
            "root/.ssh/authorized_keys",
            "".join(k + "\n" for k in self.authorized_keys),
            0o600,
        )

        for f, proc in zip(key_files, keygens, strict=True):
            output = proc.communicate()[0]
            if proc.returncode != 0:
                raise TestHostError(f"ssh-keygen {f.name}: {output.decode(errors='replace')}")
            pub = (keydir / f"{f.name}.pub").read_text()
            self._stage_file(f"etc/ssh/{f.name}", (keydir / f.name).read_bytes(), 0o600)
            self._stage_file(f"etc/ssh/{f.name}.pub", pub, 0o644)
            algo, blob = pub.split()[:2]
            self._host_keys[algo] = f"{algo} {blob}"

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
        if _in_main_thread():
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
        self._syslog = _SyslogSink(sd / "syslog.sock", sd / "syslog.log")
        with open(sd / "init.log", "wb") as log:
            self._unshare = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**_CLEAN_ENV, "TESTHOST_ROOT_PASSWORD": self.root_password},
                start_new_session=True,  # = setsid: a Ctrl-C to pytest's group doesn't hit it
            )
        # The init is unshare's only child.
        deadline = time.monotonic() + self.start_timeout
        while True:
            for pid in _all_pids():
                st = _proc_stat(pid)
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

    def listen_sockets(self) -> set[int]:
        """Inodes of the LISTEN sockets on this host's port (they change when sshd re-execs)."""
        return _listen_inodes(self.port)

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
            inodes = _listen_inodes(self.port)
            if inodes and not inodes & previous and self._pidfile_owns(inodes):
                with contextlib.suppress(OSError):
                    banner = _read_banner(self.port)
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

    def _wait_namespace_empty(self, limit: float = 30.0) -> None:
        deadline = time.monotonic() + limit
        while self.namespace_pids():
            if time.monotonic() > deadline:
                raise TestHostError(f"processes survive in {self._pid_ns}: {self.namespace_pids()}")
            time.sleep(0.01)

    def namespace_pids(self) -> list[int]:
        """Host-side PIDs of live processes in this host's PID namespace (empty once stopped)."""
        if not self._pid_ns:
            return []
        pids = []
        for pid in _all_pids():
            try:
                if os.readlink(f"/proc/{pid}/ns/pid") != self._pid_ns:
                    continue
            except OSError:
                continue
            st = _proc_stat(pid)
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

    # -- inside the host ---------------------------------------------------------------------

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
            env=_CLEAN_ENV,
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
        keys = "".join(_public_key_text(k) + "\n" for k in authorized_keys)
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


# --------------------------------------------------------------------------- client-side proof


def _listen_inodes(port: int) -> set[int]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError):
            for line in Path(table).read_text().splitlines()[1:]:
                f = line.split()
                if f[3] == "0A" and int(f[1].rpartition(":")[2], 16) == port:  # 0A: LISTEN
                    inodes.add(int(f[9]))
    return inodes


def _read_banner(port: int, host: str = LOOPBACK, timeout: float = 5.0) -> str:
    with socket.create_connection((host, port), timeout=timeout) as s:
        data = b""
        while b"\n" not in data and len(data) < 512:
            chunk = s.recv(512)
            if not chunk:
                break
            data += chunk
    return data.split(b"\n", 1)[0].decode(errors="replace").strip()


_SSH_TEST_OPTIONS: Final = (
    "BatchMode=yes",  # never prompt
    "IdentitiesOnly=yes",  # only the key given, so MaxAuthTries cannot be spent on others
    "IdentityAgent=none",
    "PreferredAuthentications=publickey",
    "StrictHostKeyChecking=no",  # tests only: every test host has fresh host keys
    "UserKnownHostsFile=/dev/null",
    "GlobalKnownHostsFile=/dev/null",
    "LogLevel=ERROR",
    "ConnectTimeout=15",
)


def ssh_command(
    port: int,
    user: str,
    key_path: str | Path,
    command: str,
    *,
    host: str = LOOPBACK,
    options: Sequence[str] = (),
    timeout: float | None = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `command` over SSH with the system client, key auth only. Test use only: host keys
    are not checked (every test host has fresh keys)."""
    args = ["ssh", "-F", "/dev/null", "-p", str(port), "-i", str(key_path)]
    for opt in (*_SSH_TEST_OPTIONS, *options):
        args += ["-o", opt]
    return subprocess.run(
        [*args, f"{user}@{host}", command],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def try_login(port: int, user: str, key_path: str | Path, *, host: str = LOOPBACK) -> bool:
    """True if `user` logs in with the key and runs a command. False only when the server
    rejects the authentication; anything else (refused, no common algorithm) raises
    SSHClientError, so a "login must fail" test cannot pass because the server is down."""
    proc = ssh_command(port, user, key_path, "true", host=host)
    if proc.returncode == 0:
        return True
    if "Permission denied" in proc.stderr or "Too many authentication failures" in proc.stderr:
        return False
    hint = _PENALTY_HINT if "kex_exchange_identification" in proc.stderr else ""
    raise SSHClientError(
        f"ssh {user}@{host}:{port} failed ({proc.returncode}): {proc.stderr.strip()}{hint}"
    )


_PENALTY_HINT: Final = (
    " (a server that closes before its banner: OpenSSH 9.8+ PerSourcePenalties may be"
    " refusing 127.0.0.1; see TestHost(source_penalties=...) and its syslog())"
)


@contextlib.contextmanager
def _transport(port: int, host: str = LOOPBACK) -> Iterator[paramiko.Transport]:
    sock = socket.create_connection((host, port), timeout=15)
    t = paramiko.Transport(sock)
    try:
        t.banner_timeout = 15
        t.auth_timeout = 15
        try:
            t.start_client(timeout=15)
        except paramiko.SSHException as e:
            hint = _PENALTY_HINT if "banner" in str(e) else ""
            raise SSHClientError(f"SSH handshake with {host}:{port} failed: {e}{hint}") from e
        yield t
    finally:
        t.close()
        sock.close()


def auth_methods(port: int, user: str, *, host: str = LOOPBACK) -> list[str]:
    """The authentication methods the server offers `user` (e.g. ["publickey", "password"])."""
    with _transport(port, host) as t:
        try:
            t.auth_none(user)
        except paramiko.BadAuthenticationType as e:
            return list(e.allowed_types)
    return ["none"]  # the server let us in without authenticating


def try_password(
    port: int,
    user: str,
    password: str,
    *,
    keyboard_interactive: bool = True,
    host: str = LOOPBACK,
) -> bool:
    """True if the password logs `user` in by `password` auth or (with PAM, the same password)
    by `keyboard-interactive`. False only when authentication is rejected; connection or
    negotiation failures raise."""

    def answer(_title: str, _instr: str, prompts: list[tuple[str, bool]]) -> list[str]:
        return [password for _ in prompts]

    attempts: list[str] = ["password", *(["keyboard-interactive"] if keyboard_interactive else [])]
    for method in attempts:
        with _transport(port, host) as t:  # own connection: MaxAuthTries counts per connection
            try:
                if method == "password":
                    t.auth_password(user, password, fallback=False)
                else:
                    t.auth_interactive(user, answer)
            except paramiko.AuthenticationException:
                continue
            if t.is_authenticated():
                return True
    return False


def server_host_key(port: int, key_type: str = "ssh-ed25519", *, host: str = LOOPBACK) -> str:
    """The host key the server presents for `key_type`, as "type base64"."""
    sock = socket.create_connection((host, port), timeout=15)
    t = paramiko.Transport(sock)
    try:
        t.get_security_options().key_types = [key_type]
        t.start_client(timeout=15)
        key = t.get_remote_server_key()
        return f"{key.get_name()} {key.get_base64()}"
    finally:
        t.close()
        sock.close()


def _ssh_audit_exe() -> str:
    beside = Path(sys.executable).parent / "ssh-audit"
    exe = str(beside) if beside.exists() else shutil.which("ssh-audit")
    if exe is None:
        raise SSHClientError("ssh-audit not found (pip install -r requirements-dev.txt)")
    return exe


def ssh_audit(port: int, *, host: str = LOOPBACK) -> dict[str, Any]:
    """ssh-audit's JSON report of what the server offers before authentication. Exit codes 0
    (good), 2 (warnings) and 3 (failures) are reports; 1 (cannot connect) raises."""
    # --skip-rate-test: the rate test opens dozens of connections and trips MaxStartups.
    proc = subprocess.run(
        [_ssh_audit_exe(), "--skip-rate-test", "-jj", "-p", str(port), host],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if proc.returncode not in (0, 2, 3):
        raise SSHClientError(f"ssh-audit failed ({proc.returncode}): {proc.stdout}{proc.stderr}")
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def audit_failures(report: dict[str, Any]) -> list[str]:
    """Algorithms whose ssh-audit notes contain `fail`, as "section: name" (e.g. "kex: ...")."""
    failed = []
    for section in ("kex", "key", "enc", "mac"):
        for entry in report.get(section, []):
            notes = entry.get("notes", {})
            if notes.get("fail"):
                failed.append(f"{section}: {entry['algorithm']}")
    return failed


# --------------------------------------------------------------------------- CLI


def _cmd_build(suites: Sequence[str]) -> int:
    missing = [s for s in suites if not rootfs_path(s).is_dir()]
    for s in suites:
        if s not in missing:
            print(f"{s}: cached at {rootfs_path(s)}")
    if not missing:
        return 0
    print(f"building {', '.join(missing)} with debootstrap from {MIRROR} (a few minutes)...")

    def one(suite: str) -> str:
        t0 = time.monotonic()
        build_rootfs(suite)
        return f"{suite}: built in {time.monotonic() - t0:.0f} s at {rootfs_path(suite)}"

    # Downloads dominate, so the suites build side by side.
    with ThreadPoolExecutor(max_workers=len(missing)) as pool:
        for line in pool.map(one, missing):
            print(line)
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    keys = [Path(k) for k in args.key]
    with TestHost(
        args.suite,
        include=not args.no_include,
        cloud_init=not args.no_cloud_init,
        port=args.port,
        authorized_keys=keys,
    ) as host:
        print(f"{host.suite}: OpenSSH {host.openssh_version} on {LOOPBACK}:{host.port}")
        print(f"  inside: nsenter -t {host.init_pid} -p -m -r -w /bin/sh")
        print(f"  root password: {host.root_password}; Ctrl-C stops it")
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    for mode in args.modes:
        times = []
        for _ in range(args.n):
            t0 = time.monotonic()
            with TestHost(args.suite, copy_mode=mode) as host:
                t1 = time.monotonic()
            t2 = time.monotonic()
            times.append((t1 - t0, t2 - t1))
            assert not host.namespace_pids()
        starts = ", ".join(f"{a:.2f}+{b:.2f}" for a, b in times)
        mean = sum(a + b for a, b in times) / len(times)
        print(f"{mode:8s} copy+start / stop (s): {starts}   mean total {mean:.2f} s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.testhost", description=__doc__)
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build missing rootfs caches")
    b.add_argument("suites", nargs="*", metavar="SUITE", help=f"default: {' '.join(SUITES)}")
    sub.add_parser("reap", help="remove hosts left by dead test processes")
    s = sub.add_parser("serve", help="run one host until Ctrl-C (manual debugging)")
    s.add_argument("suite", choices=SUITES)
    s.add_argument("--port", type=int)
    s.add_argument("--key", action="append", default=[], help="public key file for root")
    s.add_argument("--no-include", action="store_true")
    s.add_argument("--no-cloud-init", action="store_true")
    m = sub.add_parser("bench", help="time copy+start+stop per copy mode")
    m.add_argument("--suite", default="bookworm", choices=SUITES)
    m.add_argument("--n", type=int, default=3)
    m.add_argument("--modes", nargs="*", default=list(COPY_MODES), choices=COPY_MODES)
    args = parser.parse_args(argv)
    if args.cmd == "build":
        unknown = set(args.suites) - set(SUITES)
        if unknown:
            parser.error(f"unknown suite(s) {sorted(unknown)}; known: {', '.join(SUITES)}")
        return _cmd_build(args.suites or list(SUITES))
    if args.cmd == "reap":
        print(f"reaped {reap_stale()} stale host(s)")
        return 0
    if args.cmd == "serve":
        return _cmd_serve(args)
    return _cmd_bench(args)


if __name__ == "__main__":
    sys.exit(main())
