"""The JSON evidence report; its schema is docs/evidence-report.schema.json.

`parse` reads one back (scripts/drift_check.py renders the other formats and the CI summary
from the report a check wrote, so they all say what that one read found)."""

from __future__ import annotations

import json
from typing import Any

from hardening.model.controls import load_catalogue
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


def _read_host(raw: dict[str, Any]) -> HostEvidence:
    by_id = {c.id: c for c in load_catalogue().controls}
    results = []
    for c in raw["controls"]:
        if c["id"] not in by_id:
            raise ValueError(f"control {c['id']} is not in this version's catalogue")
        results.append(
            ControlResult(
                by_id[c["id"]], c["status"], c["expected"], c["actual"], c["source"], c["why"]
            )
        )
    os_ = raw["os"]
    return HostEvidence(
        host=raw["host"],
        port=raw["port"],
        checked_at=raw["checked_at"],
        os=os_["name"],
        os_id=os_["id"],
        os_version=os_["version"],
        openssh=raw["openssh"],
        results=tuple(results),
        error=raw["error"],
    )


def parse(text: str) -> Evidence:
    """The Evidence a report of `render` holds. Raises ValueError (or KeyError) if it is not one."""
    doc = json.loads(text)
    return Evidence(
        hosts=tuple(_read_host(h) for h in doc["hosts"]),
        generated=doc["generated"],
        tool_version=doc["tool"]["version"],
    )
