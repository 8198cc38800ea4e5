"""JUnit XML evidence: one testsuite per host, one testcase per control, for CI test views.

A failing control is a <failure>; "not applicable" and "not enforced" are <skipped> with the
reason (CI systems show skipped tests without failing the build); a host that could not be
checked is a testsuite holding one <error>.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hardening.model.version import TOOL_NAME
from hardening.ops.evidence import Evidence, HostEvidence
from hardening.planning.control_eval import FAIL, NOT_APPLICABLE, NOT_ENFORCED


def _suite(h: HostEvidence, version: str) -> ET.Element:
    counts = h.counts
    skipped = counts[NOT_APPLICABLE] + counts[NOT_ENFORCED]
    suite = ET.Element(
        "testsuite",
        name=f"{h.host}:{h.port}",
        hostname=h.host,
        tests=str(len(h.results) or 1),
        failures=str(counts[FAIL]),
        errors="1" if h.error else "0",
        skipped=str(skipped),
        timestamp=h.checked_at,
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("tool", f"{TOOL_NAME} {version}"),
        ("os", h.os),
        ("openssh", h.openssh),
        ("checked_at", h.checked_at),
    ):
        ET.SubElement(props, "property", name=name, value=value)
    if h.error:
        case = ET.SubElement(suite, "testcase", name="connect", classname=h.host)
        ET.SubElement(case, "error", message=h.error).text = h.error
        return suite
    for r in h.results:
        c = r.control
        case = ET.SubElement(
            suite, "testcase", name=f"{c.id}: {c.title}", classname=" ".join(c.benchmark_ids)
        )
        detail = f"expected: {r.expected}\nactual: {r.actual}\nsource: {r.source}"
        if r.status == FAIL:
            ET.SubElement(
                case, "failure", message=f"{r.actual} (expected {r.expected})"
            ).text = detail
        elif r.status in (NOT_APPLICABLE, NOT_ENFORCED):
            ET.SubElement(case, "skipped", message=f"{r.status}: {r.why}").text = detail
        else:
            ET.SubElement(case, "system-out").text = detail
    return suite


def render(evidence: Evidence) -> str:
    root = ET.Element("testsuites", name=f"{TOOL_NAME} sshd controls")
    for h in evidence.hosts:
        root.append(_suite(h, evidence.tool_version))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"
