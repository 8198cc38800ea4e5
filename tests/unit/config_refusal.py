"""How a stack configuration test judges a refusal: nothing registered, one problem about the
key, naming the fix (`pulumi config ...`).
"""

from __future__ import annotations

from tests.unit.program_preview import ROOT
from tools.offline_preview import PreviewResult

DEV = ROOT / "Pulumi.dev.yaml"


def refused(result: PreviewResult, key: str, *phrases: str) -> str:
    """The one problem about ``key``; asserts nothing was registered and a fix is given."""
    assert result.error is None, result.error
    assert result.resources == (), "a refused configuration must register no resource"
    about = [p for p in result.config_problems if p.startswith(f"{key} ")]
    assert len(about) == 1, result.config_problems
    problem = about[0]
    assert "Fix: " in problem and "pulumi config" in problem.split("Fix: ", 1)[1], problem
    for phrase in phrases:
        assert phrase in problem, problem
    return problem
