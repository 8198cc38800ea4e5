"""Proof (issue 2): `python -m hardening` against real OpenSSH hosts, run as an operator runs it.

Every host starts as a fresh cloud image (root logs in with a key and with its password,
cloud-init's drop-in allows both), on Debian bullseye, bookworm and trixie (OpenSSH 8.4, 9.2,
10.0) and on bookworm without `Include` (how RHEL-family images ship). The CLI runs as a
subprocess; what it did is judged from the host: real logins, `sshd -T`, ssh-audit, the files,
the listener and sshd's own log. The engine's report is checked against those, never trusted.

This module: the host variants and the `case` the tests get (the fixture: tests/hosts/conftest.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers.chroot_observe import BLOCK_BEGIN, BLOCK_END, DROPIN, MAIN_CONFIG, host_cli
from tests.helpers.cli import Outcome, cli_json, must
from tests.testhosts.chroot import LOOPBACK, TestHost

TESTHOST_DROPIN = "/etc/ssh/sshd_config.d/10-testhost.conf"
CLOUD_INIT_DROPIN = "/etc/ssh/sshd_config.d/50-cloud-init.conf"


@dataclass(frozen=True)
class Variant:
    suite: str
    include: bool
    key: str  # which ClientKeys key logs in (Alibaba imports RSA and ECDSA, not ed25519)

    @property
    def id(self) -> str:
        return self.suite if self.include else f"{self.suite}-no-include"

    @property
    def mode(self) -> str:
        return "dropin" if self.include else "inplace"

    @property
    def written(self) -> str:
        """The one file an apply writes on a fresh image."""
        return DROPIN if self.include else MAIN_CONFIG


VARIANTS = (
    Variant("bullseye", True, "ecdsa"),
    Variant("bookworm", True, "ed25519"),
    Variant("trixie", True, "ed25519"),
    Variant("bookworm", False, "rsa"),
)


@dataclass
class Case:
    """One fresh host, the client key that logs in to it, and the operator's known_hosts."""

    variant: Variant
    host: TestHost
    key: Path
    known_hosts: Path

    def cli(self, action: str, *args: str, **kwargs: Any) -> Outcome:
        return host_cli(
            self.host, action, *args, key=self.key, known_hosts=self.known_hosts, **kwargs
        )

    def apply_json(self, *args: str, **kwargs: Any) -> dict[str, Any]:
        return cli_json(must(self.cli("apply", "--json", *args, **kwargs)))

    @property
    def prefix(self) -> str:
        """How the CLI names the host in its human-readable output."""
        return f"{LOOPBACK}:{self.host.port}"

    @property
    def pre_8_7(self) -> bool:
        return self.host.openssh_release < (8, 7)


def main_without_block(text: str) -> str:
    lines = text.splitlines(keepends=True)
    begin = lines.index(BLOCK_BEGIN + "\n")
    end = lines.index(BLOCK_END + "\n")
    return "".join(lines[:begin] + lines[end + 1 :])


def audit_names(report: dict[str, Any], section: str) -> set[str]:
    names = {str(e["algorithm"]) for e in report[section]}
    # Protocol markers, not algorithms a client can choose.
    return {n for n in names if not n.startswith(("kex-strict-", "ext-info-"))}
