"""Evidence for auditors: the control results of one or more hosts, with what produced them.

The formats (evidence_json, evidence_junit, evidence_hdf, evidence_table) render an `Evidence`;
this module only gathers it, so every format says the same thing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from hardening.host.facts import HostFacts
from hardening.model.controls import load_catalogue
from hardening.model.version import tool_version
from hardening.planning.control_eval import STATUSES, ControlResult, HostView, evaluate

FORMATS = ("json", "junit", "hdf")


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class HostEvidence:
    host: str
    port: int
    checked_at: str  # UTC, ISO 8601
    os: str = ""  # the host's PRETTY_NAME
    os_id: str = ""
    os_version: str = ""
    openssh: str = ""  # "OpenSSH_9.2"
    results: tuple[ControlResult, ...] = ()
    error: str | None = None  # the host could not be checked: why

    @property
    def counts(self) -> dict[str, int]:
        found = Counter(r.status for r in self.results)
        return {s: found.get(s, 0) for s in STATUSES}

    @property
    def failed_ids(self) -> list[str]:
        return [r.control.id for r in self.results if r.status == "fail"]


@dataclass(frozen=True)
class Evidence:
    hosts: tuple[HostEvidence, ...]
    generated: str = field(default_factory=utc_now)
    tool_version: str = field(default_factory=tool_version)


def host_evidence(host: str, port: int, facts: HostFacts, checked_at: str = "") -> HostEvidence:
    return HostEvidence(
        host=host,
        port=port,
        checked_at=checked_at or utc_now(),
        os=facts.os_name,
        os_id=facts.os_id,
        os_version=facts.os_version,
        openssh=facts.version_text,
        results=tuple(evaluate(HostView.of(facts))),
    )


def unreachable(host: str, port: int, error: str, checked_at: str = "") -> HostEvidence:
    return HostEvidence(host=host, port=port, checked_at=checked_at or utc_now(), error=error)


def sources() -> dict[str, dict[str, str]]:
    return load_catalogue().sources
