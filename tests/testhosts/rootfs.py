"""Cached Debian root filesystems for systemd-booted test hosts (systemd-nspawn).

One cache directory per image (suite, plus an optional cloud-init layer), built once with
debootstrap under a lock into a temporary directory and renamed into place, so two builders
or a killed build never leave a half-made cache behind. Hosts never write to a cache: each
boots an overlay over it (tests/testhosts/machine.py).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tests.testhosts.procs import TestHostError, remove_tree, unmount_all_under

SUITES: Final = ("bullseye", "bookworm", "trixie", "forky")
# Suites this machine's debootstrap may not know yet are built with the sid script.
_SID_SCRIPT: Final = {"forky": "/usr/share/debootstrap/scripts/sid"}
# What each suite ships (checked 2026-12-01); tests assert it so a mirror change shows up.
EXPECTED_OPENSSH: Final = {"bullseye": "8.4", "bookworm": "9.2", "trixie": "10.0", "forky": "10.6"}

CACHE_DIR: Final = Path(
    os.environ.get("HARDENED_ECS_NSPAWN_CACHE", "/var/cache/hardened-ecs/nspawn")
)
MIRROR: Final = os.environ.get("HARDENED_ECS_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# systemd as PID 1 with logind (KillUserProcesses needs pam_systemd), nft for network faults.
PACKAGES: Final = (
    "openssh-server",
    "sudo",
    "systemd",
    "systemd-sysv",
    "dbus",
    "libpam-systemd",
    "iproute2",
    "nftables",
)


@dataclass(frozen=True)
class Image:
    """A rootfs to boot: a Debian suite, with or without Debian's cloud-init."""

    suite: str
    cloud_init: bool = False

    def __post_init__(self) -> None:
        if self.suite not in SUITES:
            raise ValueError(f"unknown suite {self.suite!r}; known: {', '.join(SUITES)}")

    @property
    def name(self) -> str:
        return f"{self.suite}-cloudinit" if self.cloud_init else self.suite

    @property
    def path(self) -> Path:
        return CACHE_DIR / self.name

    @property
    def base(self) -> Image:
        return Image(self.suite)


def _chroot(root: Path, *cmd: str, log: Path) -> None:
    with open(log, "a") as out:
        proc = subprocess.run(
            ["setpriv", "--pdeathsig", "KILL", "--", "chroot", str(root), *cmd],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive"},
            check=False,
        )
    if proc.returncode != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(True)[-30:])
        raise TestHostError(f"chroot {root} {' '.join(cmd)} failed ({proc.returncode}):\n{tail}")


def _debootstrap(image: Image, tmp: Path, log: Path, mirror: str) -> None:
    cmd = [
        *("setpriv", "--pdeathsig", "KILL", "--"),  # dies with the builder
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        image.suite,
        str(tmp),
        mirror,
    ]
    if image.suite in _SID_SCRIPT:
        cmd.append(_SID_SCRIPT[image.suite])
    with open(log, "w") as out:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(True)[-30:])
        raise TestHostError(f"debootstrap {image.suite} failed ({proc.returncode}):\n{tail}")
    unmount_all_under(tmp)


def _add_cloud_init(base: Path, tmp: Path, log: Path) -> None:
    """cloud-init has virtual dependencies debootstrap cannot resolve: apt inside a copy."""
    subprocess.run(["cp", "-a", f"{base}/.", str(tmp)], check=True, capture_output=True)
    (tmp / "proc").mkdir(exist_ok=True)
    shutil.copy("/etc/resolv.conf", tmp / "etc/resolv.conf")
    subprocess.run(["mount", "-t", "proc", "proc", str(tmp / "proc")], check=True)
    try:
        _chroot(tmp, "apt-get", "update", "-q", log=log)
        _chroot(
            tmp,
            *("apt-get", "install", "-y", "-q", "--no-install-recommends", "cloud-init"),
            log=log,
        )
        _chroot(tmp, "apt-get", "clean", log=log)
    finally:
        unmount_all_under(tmp)
    # Only the NoCloud seed each host gets: never probe for a real cloud.
    (tmp / "etc/cloud/cloud.cfg.d/90-testhost.cfg").write_text("datasource_list: [ NoCloud ]\n")


def _finalize(root: Path) -> None:
    """Make the cache look like an image before its first boot: no identity of its own."""
    (root / "etc/machine-id").write_text("")
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    # No DNS for test hosts: sudo and sshd must not wait for a resolver.
    (root / "etc/resolv.conf").unlink(missing_ok=True)
    (root / "etc/resolv.conf").write_text("")
    # Serial getty on nspawn's console is noise; the tests log in over SSH.
    for unit in ("console-getty.service", "getty@tty1.service"):
        link = root / "etc/systemd/system/getty.target.wants" / unit
        link.unlink(missing_ok=True)
    (root / "run/sshd").mkdir(mode=0o755, parents=True, exist_ok=True)


def fresh_build_dir(cache: Path, name: str) -> Path:
    """A new directory beside the cache to build `name` in, after removing what killed builds
    left there (`.NAME.building-*`); the caller renames it into place when it is complete."""
    for stale in cache.glob(f".{name}.building-*"):
        if stale.is_dir():
            remove_tree(stale)
        else:
            stale.unlink()
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.building-", dir=cache))
    tmp.chmod(0o755)  # becomes "/": mkdtemp's 0700 would lock out unprivileged users
    return tmp


def build(image: Image, *, mirror: str = MIRROR) -> Path:
    """The cached rootfs of `image`, built if missing (its base first)."""
    if image.path.is_dir():
        return image.path
    base = build(image.base, mirror=mirror) if image.cloud_init else None
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / f".{image.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another make/pytest may be building it
        if image.path.is_dir():
            return image.path
        tmp = fresh_build_dir(CACHE_DIR, image.name)  # after removing killed builds
        log = tmp.with_name(tmp.name + ".log")
        try:
            if base is None:
                _debootstrap(image, tmp, log, mirror)
            else:
                _add_cloud_init(base, tmp, log)
            _finalize(tmp)
            tmp.rename(image.path)
        except BaseException:
            remove_tree(tmp)
            raise
        finally:
            log.unlink(missing_ok=True)
    return image.path


def package_version(root: Path, package: str) -> str | None:
    """The installed version of a Debian package in a rootfs, read from dpkg's status file."""
    block: dict[str, str] = {}
    for line in [*(root / "var/lib/dpkg/status").read_text().splitlines(), ""]:
        if not line:
            if block.get("Package") == package and "installed" in block.get("Status", ""):
                return block.get("Version")
            block = {}
        elif not line.startswith(" ") and ":" in line:
            k, _, v = line.partition(":")
            block[k] = v.strip()
    return None


# Read-only view of the cache in a mount namespace of its own, a tmpfs on /tmp for the inputs:
# nothing the command does reaches the cache, and every mount goes with the namespace.
_READ_ONLY_CHROOT: Final = """
set -e
root=$1 view=$2 inputs=$3; shift 3
mount --bind "$root" "$view"
mount -o remount,bind,ro "$view"
mount -t tmpfs -o mode=0755 tmpfs "$view/tmp"
cp -r "$inputs/." "$view/tmp/"
exec chroot "$view" "$@"
"""


def run_in_image(
    image: Image, *cmd: str, files: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `cmd` in the cached rootfs of `image`, read-only, with `files` (name -> text) in its
    /tmp; stdout and stderr together."""
    root = build(image)
    with tempfile.TemporaryDirectory() as work:
        inputs, view = Path(work, "inputs"), Path(work, "view")
        inputs.mkdir()
        view.mkdir()
        for name, text in (files or {}).items():
            (inputs / name).write_text(text)
        return subprocess.run(
            [
                *("setpriv", "--pdeathsig", "KILL", "--"),
                *("unshare", "--mount", "--propagation", "private", "--"),
                *("sh", "-c", _READ_ONLY_CHROOT, "sh", str(root), str(view), str(inputs), *cmd),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"},
            check=False,
        )
