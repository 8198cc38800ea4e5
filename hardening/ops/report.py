"""What an operation on one host was asked to do (Options) and what came of it (Report)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hardening.model import defaults
from hardening.model.errors import EXIT_OK
from hardening.ops.evidence import HostEvidence
from hardening.planning.plan import effective_matches
from hardening.ssh.stats import Stats


@dataclass(frozen=True)
class Options:
    # How long to wait for a booting host (connect retries, cloud-init, another apply's lock).
    wait: float = defaults.WAIT
    # Connect retries alone, when they should end sooner: the standalone CLI without --wait
    # tries once, so a mistyped port fails at once (None: `wait`).
    connect_wait: float | None = None
    confirm_timeout: int = defaults.CONFIRM_TIMEOUT  # the host then rolls back by itself
    verify_wait: float = defaults.VERIFY_WAIT  # for a fresh connection after the reload
    command_timeout: float = defaults.COMMAND_TIMEOUT  # for one remote command in total

    @property
    def connect_budget(self) -> float:
        return self.wait if self.connect_wait is None else self.connect_wait


DEFAULTS = Options()  # frozen: one instance serves every call


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
    modes: list[str] = field(default_factory=list)  # "PATH mode 0644 -> 0600": the plan's
    notes: list[str] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    seconds: float = 0.0
    name: str | None = None  # an inventory entry's name (the text output's; not in --json)
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
            "modes": self.modes,
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
