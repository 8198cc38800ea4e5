"""Golden plans: the drop-in or managed block each distribution gets equals its file in
tests/facts/SLUG/ (regenerate with `python -m tests.facts.regen` for a change you mean)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.facts import FACTS_DIR, SLUGS, WITH_INCLUDE, WITHOUT_INCLUDE, regen
from tests.facts.regen import BLOCK_FILE, DROPIN_FILE


@pytest.mark.parametrize("slug", SLUGS)
def test_the_plan_is_its_golden_file(slug: str) -> None:
    difference = regen.diff(slug)
    if difference:
        pytest.fail(
            f"the plan for {slug} differs from its golden file; if the change is meant, run "
            f"`venv/bin/python -m tests.facts.regen {slug}` and review the diff:\n{difference}",
            pytrace=False,
        )


def test_each_distribution_has_the_golden_file_of_its_mode() -> None:
    assert {s for s in SLUGS if (FACTS_DIR / s / DROPIN_FILE).is_file()} == set(WITH_INCLUDE)
    assert {s for s in SLUGS if (FACTS_DIR / s / BLOCK_FILE).is_file()} == set(WITHOUT_INCLUDE)


@pytest.fixture
def facts_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The golden files in a copy of tests/facts, so a test may break and regenerate them."""
    for slug in SLUGS:
        shutil.copytree(FACTS_DIR / slug, tmp_path / slug)
    monkeypatch.setattr(regen, "FACTS_DIR", tmp_path)
    return tmp_path


def test_a_difference_is_a_readable_diff(facts_copy: Path) -> None:
    golden = facts_copy / "debian-12" / DROPIN_FILE
    golden.write_text(golden.read_text().replace("MaxAuthTries 3\n", "MaxAuthTries 4\n"))
    assert regen.diff("debian-12").splitlines() == [
        "--- tests/facts/debian-12/expected-dropin.conf",
        "+++ make_plan(debian-12)",
        "@@ -11,7 +11,7 @@",
        " GSSAPIAuthentication no",
        " KerberosAuthentication no",
        " UsePAM yes",
        "-MaxAuthTries 4",
        "+MaxAuthTries 3",
        " LoginGraceTime 30",
        " MaxStartups 10:30:60",
        " MaxSessions 10",
    ]
    assert regen.diff("debian-11") == ""


def test_a_missing_or_stale_golden_file_is_a_difference(facts_copy: Path) -> None:
    (facts_copy / "centos-7" / BLOCK_FILE).unlink()
    (facts_copy / "centos-7" / DROPIN_FILE).write_text("PermitRootLogin no\n")
    lines = regen.diff("centos-7").splitlines()
    assert lines[:2] == ["--- tests/facts/centos-7/expected-dropin.conf", "+++ /dev/null"]
    assert "--- /dev/null" in lines
    assert "+++ make_plan(centos-7)" in lines
    assert "+# BEGIN hardened-ecs managed block" in lines


def test_regen_rewrites_only_what_differs(
    facts_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    golden = facts_copy / "centos-7" / BLOCK_FILE
    want = golden.read_text()
    golden.write_text("stale\n")
    (facts_copy / "centos-7" / DROPIN_FILE).write_text("stale\n")
    assert regen.main(["centos-7", "debian-12"]) == 0
    assert capsys.readouterr().out == "centos-7: rewritten\ndebian-12: unchanged\n"
    assert golden.read_text() == want
    assert not (facts_copy / "centos-7" / DROPIN_FILE).exists()
    assert all(regen.diff(slug) == "" for slug in SLUGS)


def test_regen_refuses_an_unknown_distribution(capsys: pytest.CaptureFixture[str]) -> None:
    assert regen.main(["debian-99"]) == 2
    assert capsys.readouterr().out.startswith("unknown distribution debian-99: one of alinux-3, ")
