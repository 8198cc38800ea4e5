"""Preparing a chroot host's copy of its image before it starts: fresh host keys, the sshd
configuration a fresh cloud image has (cloud-init's drop-in, or everything in sshd_config for a
RHEL-like image), root's authorized_keys and /etc/hosts, written into the writable layer."""

from __future__ import annotations

import os
import re
import socket
import subprocess
from pathlib import Path

from tests.testhosts.chroot_image import CopyMode, image_openssh_release, rootfs_path
from tests.testhosts.loopback import LOOPBACK
from tests.testhosts.procs import TestHostError


def _key_type_of(path: Path) -> str:
    # ssh_host_ed25519_key -> ed25519
    return path.name.removeprefix("ssh_host_").removesuffix("_key")


def public_key_text(key: str | Path) -> str:
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


class ChrootStaging:
    """What TestHost does to its copy before starting it (a mixin: TestHost sets the fields)."""

    suite: str
    include: bool
    cloud_init: bool
    port: int
    authorized_keys: list[str]
    copy_mode: CopyMode
    source_penalties: bool
    state_dir: Path | None
    _host_keys: dict[str, str]

    @property
    def lower(self) -> Path:
        return rootfs_path(self.suite)

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
