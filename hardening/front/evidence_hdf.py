"""MITRE Heimdall Data Format (the InSpec exec JSON that Heimdall shows): one profile per host.

HDF has four result states: "not applicable" becomes skipped with impact 0 (InSpec's own way),
"not enforced" stays failed and carries the reason as waiver data, so a viewer shows it as a
known exception, not as a pass.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hardening.model.controls import CATALOGUE_FILE
from hardening.model.version import TOOL_NAME
from hardening.ops.evidence import Evidence, HostEvidence
from hardening.planning.control_eval import FAIL, NOT_APPLICABLE, NOT_ENFORCED, ControlResult

_HDF_STATUS = {FAIL: "failed", NOT_ENFORCED: "failed", NOT_APPLICABLE: "skipped"}


def _control(r: ControlResult, at: str) -> dict[str, Any]:
    c = r.control
    result: dict[str, Any] = {
        "status": _HDF_STATUS.get(r.status, "passed"),
        "code_desc": f"{r.source}: expected {r.expected}",
        "start_time": at,
        "message": f"actual: {r.actual}",
    }
    if r.status == NOT_APPLICABLE:
        result["skip_message"] = r.why
    control: dict[str, Any] = {
        "id": c.id,
        "title": c.title,
        "desc": None,
        "descriptions": [],
        "impact": 0.0 if r.status == NOT_APPLICABLE else 0.5,
        "refs": [],
        "tags": {**c.ids, "level": c.level, "status": r.status},
        "code": None,
        "source_location": {"ref": f"hardening/{CATALOGUE_FILE}", "line": None},
        "results": [result],
    }
    if r.status == NOT_ENFORCED:
        control["waiver_data"] = {"justification": r.why, "run": True, "message": r.why}
    return control


def _profile(h: HostEvidence, version: str) -> dict[str, Any]:
    controls = [_control(r, h.checked_at) for r in h.results]
    digest = hashlib.sha256(json.dumps(controls, sort_keys=True).encode()).hexdigest()
    return {
        "name": f"{TOOL_NAME}-sshd-controls {h.host}:{h.port}",
        "title": f"sshd controls (CIS 5.1, dev-sec ssh-baseline) on {h.host}:{h.port}",
        "version": version,
        "summary": f"{h.os} {h.openssh}".strip(),
        "sha256": digest,
        "supports": [],
        "attributes": [],
        "groups": [{"id": CATALOGUE_FILE, "title": None, "controls": [c["id"] for c in controls]}],
        "controls": controls,
        "status": "failed" if h.error else "loaded",
        "status_message": h.error or "",
    }


def as_dict(evidence: Evidence) -> dict[str, Any]:
    one = evidence.hosts[0] if len(evidence.hosts) == 1 else None
    platform = (
        {"name": one.os_id or "unknown", "release": one.os_version, "target_id": one.host}
        if one
        else {"name": "fleet", "release": "", "target_id": ",".join(h.host for h in evidence.hosts)}
    )
    return {
        "platform": platform,
        "profiles": [_profile(h, evidence.tool_version) for h in evidence.hosts],
        "statistics": {},
        "version": evidence.tool_version,
        "generator": {"name": TOOL_NAME, "version": evidence.tool_version},
        "generated": evidence.generated,
    }


def render(evidence: Evidence) -> str:
    return json.dumps(as_dict(evidence), indent=2) + "\n"
