"""Assemble `facts.sh` output for the distributions no host here can run, from data files.

    venv/bin/python -m tests.facts.assemble [SLUG ...]

Each distribution's data is a folder under constructed/ (README.md says where it came from):
etc/ holds the files its image ships (os-release, ssh/sshd_config, ssh/sshd_config.d/*.conf,
sysconfig/sshd), sshd-T what `sshd -T` prints with them, distro.toml what else the facts
script sees (`sshd -V`, the service units, the listener's command line and sockets, which
`ssh -Q` lists of constructed/ssh-Q.toml). `build` renders it in the exact form of
hardening/host/scripts/facts.sh (it reproduces the recorded Debian files byte for byte from
their sections) under a first line saying it is constructed; `main` writes
tests/facts/SLUG.txt.
"""

from __future__ import annotations

import base64
import functools
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parent
DATA_DIR = OUT_DIR / "constructed"
CLIENT_ADDR = "198.51.100.7"  # TEST-NET-2: where the operator connects from
# Test parameters follow this order.
SLUGS = ("ubuntu-20.04", "ubuntu-22.04", "ubuntu-24.04", "alinux-3", "centos-7", "rocky-9")

CONSTRUCTED = (
    "# constructed from the distribution's defaults, not recorded: {what}. "
    "Regenerate: python -m tests.facts.assemble\n"
)


@dataclass(frozen=True)
class Distro:
    slug: str
    what: str
    os_release: str
    sshd_version: str
    sshd_T: str
    kex: list[str]
    cipher: list[str]
    mac: list[str]
    key_sig: list[str]  # empty: `ssh -Q key-sig` is not supported (prints nothing to stdout)
    main_config: str
    dropins: dict[str, str] = field(default_factory=dict)
    dropin_dir: bool = True
    host_keys: tuple[str, ...] = ("ecdsa", "ed25519", "rsa")
    service: str = ""
    listener_cmdline: str = ""  # /proc/PID/cmdline with NULs as spaces (no newline)
    listening: str = ""  # "pid N" and the listener's "tcp HEX:HEX" sockets
    sysconfig_sshd: str | None = None  # /etc/sysconfig/sshd (RHEL family)
    # "debian": sshd_config 0644, private host keys 0600 root:root (Debian, Ubuntu);
    # "rhel": sshd_config 0600, private host keys 0640 root:ssh_keys (openssh.spec, sshd-keygen)
    file_modes: str = "debian"


@functools.cache
def _ssh_q_lists() -> dict[str, Any]:
    return tomllib.loads((DATA_DIR / "ssh-Q.toml").read_text())


def load(slug: str) -> Distro:
    """One distribution's folder under constructed/ as a Distro."""
    folder = DATA_DIR / slug
    meta = tomllib.loads((folder / "distro.toml").read_text())
    lists = _ssh_q_lists()
    ssh_q: dict[str, str] = meta["ssh-Q"]
    etc = folder / "etc"
    dropin_dir = etc / "ssh" / "sshd_config.d"  # none at all on RHEL 7/8 (no Include)
    sysconfig = etc / "sysconfig" / "sshd"
    return Distro(
        slug=slug,
        what=meta["what"],
        os_release=(etc / "os-release").read_text(),
        sshd_version=meta["sshd_version"],
        sshd_T=(folder / "sshd-T").read_text(),
        kex=lists["kex"][ssh_q["kex"]],
        cipher=lists["cipher"][ssh_q["cipher"]],
        mac=lists["mac"][ssh_q["mac"]],
        key_sig=lists["key-sig"][ssh_q["key-sig"]],
        main_config=(etc / "ssh" / "sshd_config").read_text(),
        dropins=(
            {p.name: p.read_text() for p in sorted(dropin_dir.glob("*.conf"))}
            if dropin_dir.is_dir()
            else {}
        ),
        dropin_dir=dropin_dir.is_dir(),
        service=meta["service"],
        listener_cmdline=meta["listener_cmdline"],
        listening=meta["listening"],
        sysconfig_sshd=sysconfig.read_text() if sysconfig.is_file() else None,
        file_modes=meta.get("file_modes", "debian"),
    )


DISTROS = [load(slug) for slug in SLUGS]


def _b64_wrapped(text: str) -> str:
    """`base64 < file`: 76 columns, a trailing newline (nothing for an empty file)."""
    return base64.encodebytes(text.encode()).decode()


def render(header: str, sections: list[tuple[str, str]]) -> str:
    """The script's output: `sec NAME` prints a blank line, then `@@ NAME`, then the body."""
    return header + "".join(f"\n@@ {name}\n{body}" for name, body in sections)


def _lines(items: list[str]) -> str:
    return "".join(f"{i}\n" for i in items)


def _file_modes(d: Distro) -> str:
    """`stat -c '%a %U %G %n'` of sshd_config, then the private, then the public host keys."""
    config, key_group, key_mode = (
        ("600", "ssh_keys", "640") if d.file_modes == "rhel" else ("644", "root", "600")
    )
    keys = [f"/etc/ssh/ssh_host_{t}_key" for t in sorted(d.host_keys)]
    return _lines(
        [f"{config} root root /etc/ssh/sshd_config"]
        + [f"{key_mode} root {key_group} {k}" for k in keys]
        + [f"644 root root {k}.pub" for k in keys]
    )


def sections(d: Distro) -> list[tuple[str, str]]:
    dropins = "".join(
        f"{base64.b64encode(name.encode()).decode()} {base64.b64encode(text.encode()).decode()}\n"
        for name, text in sorted(d.dropins.items())
    )
    return [
        ("uid", "0\n"),
        ("os-release", d.os_release),
        ("sshd-version", d.sshd_version),
        ("client-addr", f"{CLIENT_ADDR}\n"),
        ("sshd-T", d.sshd_T + "@rc=0\n"),
        ("ssh-Q-kex", _lines(d.kex)),
        ("ssh-Q-cipher", _lines(d.cipher)),
        ("ssh-Q-mac", _lines(d.mac)),
        ("ssh-Q-key-sig", _lines(d.key_sig)),
        ("main-config", _b64_wrapped(d.main_config)),
        ("dropins", dropins if d.dropin_dir else ""),
        ("host-keys", _lines([f"/etc/ssh/ssh_host_{t}_key" for t in sorted(d.host_keys)])),
        ("file-modes", _file_modes(d)),
        ("service", d.service),
        ("socket-port", ""),
        ("listener-cmdline", d.listener_cmdline),
        ("listening", d.listening),
        ("sysconfig-sshd", "" if d.sysconfig_sshd is None else _b64_wrapped(d.sysconfig_sshd)),
        ("banner", ""),
        ("lock", ""),
        ("admin", "exists no\n"),
        ("end", ""),
    ]


def build(d: Distro) -> str:
    return render(CONSTRUCTED.format(what=d.what), sections(d))


def main(argv: list[str]) -> None:
    for d in DISTROS:
        if argv and d.slug not in argv:
            continue
        text = build(d)
        (OUT_DIR / f"{d.slug}.txt").write_text(text)
        print(f"{d.slug}: {len(text)} characters", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
