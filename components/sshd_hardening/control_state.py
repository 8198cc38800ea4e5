"""The control results an SshdHardening keeps in its state: compact, not the whole report.

``controls``: control id -> status (hardening/model/control_catalogue.json's ids; the statuses
of hardening/planning/control_eval.py). ``controlSummary``: the counts and the failed ids, what
the stack exports per server. The full report (expected, actual, where each value was read) is
the CLI's: `python -m hardening check --report` (docs/evidence.md).
"""

from __future__ import annotations

from typing import Any

from hardening.ops.evidence import HostEvidence
from hardening.planning.control_eval import FAIL, NOT_APPLICABLE, NOT_ENFORCED, PASS

CONTROL_OUTPUT_NAMES = ("controls", "controlSummary")


def control_outputs(evidence: HostEvidence | None) -> dict[str, Any]:
    """The state's control outputs for what the engine read (None: it read nothing)."""
    if evidence is None:
        return dict.fromkeys(CONTROL_OUTPUT_NAMES)
    counts = evidence.counts
    return {
        "controls": {r.control.id: r.status for r in evidence.results},
        "controlSummary": {
            "passed": counts[PASS],
            "failed": counts[FAIL],
            "notApplicable": counts[NOT_APPLICABLE],
            "notEnforced": counts[NOT_ENFORCED],
            "failedIds": evidence.failed_ids,
            "checkedAt": evidence.checked_at,
        },
    }
