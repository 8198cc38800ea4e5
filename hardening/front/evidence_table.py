"""The evidence as a table for a terminal: per host a heading, then one line per control.

The CIS column shows the benchmark of the host's own family (Debian 12, Ubuntu 24.04, RHEL 9,
Alibaba Cloud Linux 3); the JSON, JUnit and HDF reports carry every ID.
"""

from __future__ import annotations

from hardening.model.version import TOOL_NAME
from hardening.ops.evidence import Evidence, HostEvidence
from hardening.planning.control_eval import ControlResult

_CIS_FOR_OS = {
    "debian": "cis_debian12",
    "ubuntu": "cis_ubuntu2404",
    "rhel": "cis_rhel9",
    "rocky": "cis_rhel9",
    "almalinux": "cis_rhel9",
    "centos": "cis_rhel9",
    "alinux": "cis_alinux3",
}
_WIDTH = 40  # expected/actual cut to this many characters (the reports keep them whole)


def _cut(text: str) -> str:
    return text if len(text) <= _WIDTH else text[: _WIDTH - 1] + "…"


def _row(r: ControlResult, cis: str) -> list[str]:
    c = r.control
    ids = c.ids.get(cis, "")
    ids += (" " if ids else "") + c.ids.get("devsec", "")
    return [r.status, c.id, ids.strip() or "-", _cut(r.expected), _cut(r.actual)]


def _host(h: HostEvidence) -> list[str]:
    head = f"{h.host}:{h.port}  {h.os or '?'}  {h.openssh or '?'}  {h.checked_at}"
    if h.error:
        return [head, f"  not checked: {h.error}"]
    cis = _CIS_FOR_OS.get(h.os_id, "cis_ubuntu2404")
    rows = [["STATUS", "CONTROL", f"{cis.upper()} / DEV-SEC", "EXPECTED", "ACTUAL"]]
    rows += [_row(r, cis) for r in h.results]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [head]
    for row in rows:
        cells = [v.ljust(w) for v, w in zip(row, widths, strict=False)]
        lines.append("  " + "  ".join([*cells, row[4]]))
    lines.append("  " + summary_line(h))
    return lines


def summary_line(h: HostEvidence) -> str:
    """`host:port: 30 pass, 2 fail (...), ...`: the line a fleet run prints per host."""
    if h.error:
        return f"{h.host}:{h.port}: not checked ({h.error})"
    counts = ", ".join(f"{n} {status}" for status, n in h.counts.items())
    failed = h.failed_ids
    return f"{h.host}:{h.port}: {counts}" + (f"; failed: {' '.join(failed)}" if failed else "")


def render(evidence: Evidence) -> str:
    lines = [f"{TOOL_NAME} {evidence.tool_version} controls report, {evidence.generated}"]
    for h in evidence.hosts:
        lines += ["", *_host(h)]
    return "\n".join(lines) + "\n"
