"""The chroot hosts' Debian images: one debootstrap rootfs per suite, cached and never written
(each host runs on an overlay or a copy of it). Built under a lock into a temporary directory
and renamed into place, like the nspawn images (rootfs.py), whose helpers it shares.
"""

from __future__ import annotations

import fcntl
import functools
import os
import re
import subprocess
from pathlib import Path
from typing import Final, Literal

from tests.testhosts.procs import TestHostError, remove_tree, unmount_all_under
from tests.testhosts.rootfs import MIRROR, fresh_build_dir

SUITES: Final = ("bullseye", "bookworm", "trixie")
# What each suite ships (checked on this machine); tests assert it so a mirror change shows up.
EXPECTED_OPENSSH: Final = {"bullseye": "8.4", "bookworm": "9.2", "trixie": "10.0"}

CACHE_DIR: Final = Path(
    os.environ.get("HARDENED_ECS_ROOTFS_CACHE", "/var/cache/hardened-ecs/rootfs")
)

CopyMode = Literal["overlay", "copy", "reflink"]
COPY_MODES: Final[tuple[CopyMode, ...]] = ("overlay", "copy", "reflink")
# overlay: measured ~0.3-0.5 s copy+start+stop per host vs 1-2 s for `cp -a` of 240 MB (ext4 has
# no reflink, so --reflink=auto is a plain, slightly slower copy). The overlay is mounted inside
# the host's own mount namespace, so it vanishes with the namespace and can never leak a mount.
DEFAULT_COPY_MODE: Final[CopyMode] = (
    "copy" if os.environ.get("HARDENED_ECS_TESTHOST_COPY") == "copy" else "overlay"
)


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
        tmp = fresh_build_dir(CACHE_DIR, suite)  # after removing killed builds
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
            unmount_all_under(tmp)  # debootstrap unmounts proc/sys itself; be sure
            _finalize_rootfs(tmp)
            tmp.rename(target)
        except BaseException:
            remove_tree(tmp)
            raise
        finally:
            log.unlink(missing_ok=True)
    return target
