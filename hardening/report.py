"""What an operation on one host was asked to do (Options) and what came of it (Report)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hardening.errors import EXIT_OK
from hardening.evidence import HostEvidence
from hardening.plan import effective_matches
from hardening.transport import COMMAND_TIMEOUT, Stats


@dataclass(frozen=True)
class Options:
    wait: float = 300.0  # how long to wait for a booting host (connect retries)
    confirm_timeout: int = 120  # the host rolls back by itself after this many seconds
    verify_wait: float = 20.0  # how long a fresh connection may take after the reload
    command_timeout: float = COMMAND_TIMEOUT  # seconds one remote command may take in total


@dataclass
class Report:
    host: str
    port: int
    action: str
    changed: bool = False
    compliant: bool = False
    rolled_back: bool = False
    error: str | None = None
    exit_code: int = EXIT_OK
    settings: dict[str, dict[str, str | None]] = field(default_factory=dict)
    host_key_fingerprint: str | None = None
    # After a host-key rotation: the public line of the key the host presents now.
    host_public_key: str | None = None
    user: str | None = None
    openssh: str | None = None
    os: str | None = None
    mode: str | None = None
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    seconds: float = 0.0
    # check: the control results (hardening.controls), for `check --report`; not in as_dict.
    evidence: HostEvidence | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "action": self.action,
            "changed": self.changed,
            "compliant": self.compliant,
            "rolled_back": self.rolled_back,
            "error": self.error,
            "exit_code": self.exit_code,
            "user": self.user,
            "host_key_fingerprint": self.host_key_fingerprint,
            "host_public_key": self.host_public_key,
            "openssh": self.openssh,
            "os": self.os,
            "mode": self.mode,
            "files": self.files,
            "settings": self.settings,
            "notes": self.notes,
            "connections": self.stats.connections,
            "commands": self.stats.commands,
            "seconds": round(self.seconds, 3),
            "timeline": [
                {
                    "step": step,
                    "at": round(began - self.stats.origin, 3),
                    "seconds": round(ended - began, 3),
                }
                for step, began, ended in self.stats.timeline
            ],
        }

    @property
    def drift(self) -> list[str]:
        return [n for n, s in self.settings.items() if s["after"] is None or not _ok(n, s)]


def _ok(name: str, s: dict[str, str | None]) -> bool:
    return effective_matches(name, s["wanted"] or "", s["after"])
