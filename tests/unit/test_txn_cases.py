"""txn.sh's modes over a temporary root, case by case (tests/unit/txn_cases/*.toml; the
harness: txn_harness.py). The real-host proofs of the same protocol are
tests/hosts/test_transaction_hosts.py and the fault tests."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.txn_harness import load_cases, run_case

CASES = load_cases()


def test_there_are_cases() -> None:
    assert len(CASES) >= 10


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_case(case: dict[str, Any]) -> None:
    assert run_case(case) == []
