"""The JSON evidence report; its schema is docs/evidence-report.schema.json."""

from __future__ import annotations

import json
from typing import Any

from hardening.model.version import TOOL_NAME
from hardening.ops.evidence import Evidence, HostEvidence, sources
from hardening.planning.control_eval import ControlResult


def _control(r: ControlResult) -> dict[str, Any]:
    c = r.control
    return {
        "id": c.id,
        "title": c.title,
        "level": c.level,
        "ids": c.ids,
        "status": r.status,
        "expected": r.expected,
        "actual": r.actual,
        "source": r.source,
        "why": r.why,
    }


def _host(h: HostEvidence) -> dict[str, Any]:
    return {
        "host": h.host,
        "port": h.port,
        "checked_at": h.checked_at,
        "os": {"name": h.os, "id": h.os_id, "version": h.os_version},
        "openssh": h.openssh,
        "error": h.error,
        "summary": h.counts,
        "controls": [_control(r) for r in h.results],
    }


def as_dict(evidence: Evidence) -> dict[str, Any]:
    return {
        "tool": {"name": TOOL_NAME, "version": evidence.tool_version},
        "generated": evidence.generated,
        "sources": sources(),
        "hosts": [_host(h) for h in evidence.hosts],
    }


def render(evidence: Evidence) -> str:
    return json.dumps(as_dict(evidence), indent=2) + "\n"
