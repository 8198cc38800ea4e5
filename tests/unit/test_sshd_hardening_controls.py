"""The control results SshdHardening keeps in its state (control_state.py): what `up` and
`refresh` record from the engine's evidence, and that they never ask for a change. Against real
hosts under the real engine: tests/pulumi/test_pulumi_engine.py."""

from __future__ import annotations

from typing import Any

import pytest

from components.sshd_hardening.control_state import control_outputs
from components.sshd_hardening.provider import SshdHardeningProvider
from hardening.model.controls import load_catalogue
from hardening.ops import engine
from hardening.ops.evidence import HostEvidence
from hardening.planning.control_eval import FAIL, NOT_APPLICABLE, NOT_ENFORCED, PASS, ControlResult
from tests.unit.test_sshd_hardening_provider import INPUTS, STATE

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pulumi_alicloud's own

CONTROLS = load_catalogue().controls


def evidence(statuses: dict[str, str]) -> HostEvidence:
    """Every catalogue control passes unless `statuses` says otherwise."""
    results = tuple(
        ControlResult(c, statuses.get(c.id, PASS), "wanted", "seen", "sshd -T") for c in CONTROLS
    )
    return HostEvidence("192.0.2.10", 22, "2026-12-07T17:00:00Z", results=results)


def engine_reading(monkeypatch: pytest.MonkeyPatch, found: HostEvidence | None) -> None:
    """The engine's apply and check succeed and report `found` as the host's evidence."""

    def run(target: Any, request: Any, options: Any, progress: Any) -> engine.Report:
        return engine.Report(
            host=target.host, port=target.port, action="x", compliant=True, evidence=found
        )

    monkeypatch.setattr(engine, "apply", run)
    monkeypatch.setattr(engine, "check", run)


def test_the_summary_counts_every_status_and_names_the_failed_controls() -> None:
    outs = control_outputs(
        evidence(
            {
                "password-authentication": FAIL,
                "permit-root-login": FAIL,
                "banner": NOT_ENFORCED,
                "print-last-log": NOT_APPLICABLE,
            }
        )
    )
    assert outs["controls"]["password-authentication"] == "fail"
    assert outs["controls"]["banner"] == "not enforced"
    assert set(outs["controls"]) == {c.id for c in CONTROLS}
    assert outs["controlSummary"] == {
        "passed": len(CONTROLS) - 4,
        "failed": 2,
        "notApplicable": 1,
        "notEnforced": 1,
        # In the catalogue's order.
        "failedIds": [
            c.id for c in CONTROLS if c.id in ("password-authentication", "permit-root-login")
        ],
        "checkedAt": "2026-12-07T17:00:00Z",
    }


def test_update_and_read_record_what_the_engine_read(monkeypatch: pytest.MonkeyPatch) -> None:
    engine_reading(monkeypatch, evidence({}))
    updated = SshdHardeningProvider().update("id", STATE, dict(INPUTS)).outs
    assert updated is not None
    assert updated["controlSummary"]["failed"] == 0
    engine_reading(monkeypatch, evidence({"password-authentication": FAIL}))
    read = SshdHardeningProvider().read("id", {**STATE, **updated}).outs
    assert read is not None
    assert read["controls"]["password-authentication"] == "fail"
    assert read["controlSummary"]["failedIds"] == ["password-authentication"]


def test_no_evidence_records_no_results_rather_than_stale_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine_reading(monkeypatch, None)
    before = {**STATE, **control_outputs(evidence({}))}
    read = SshdHardeningProvider().read("id", before).outs
    assert read is not None
    assert read["controls"] is None and read["controlSummary"] is None


@pytest.mark.parametrize("recorded", [evidence({"banner": FAIL}), evidence({}), None])
def test_control_results_never_ask_for_a_change(recorded: HostEvidence | None) -> None:
    # Outputs, not inputs: a preview right after `up` (or a refresh that only changed the
    # results) plans nothing; a drifted directive still does (compliant, as before).
    olds = {**STATE, **control_outputs(recorded)}
    result = SshdHardeningProvider().diff("id", olds, dict(INPUTS))
    assert result.changes is False and not result.replaces
