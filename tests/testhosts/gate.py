"""Skip or fail when test hosts cannot run, and stop what a fixture made: shared by the chroot
hosts' fixture (tests/conftest.py) and the systemd hosts' (fixtures.py). Not a pytest plugin
itself, so both can import it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import NoReturn

import pytest

from tests.testhosts.procs import Stoppable


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def skip_or_fail(reason: str, what: str = "systemd test hosts") -> NoReturn:
    """Skip, except under CI=true: CI must never go green by skipping the real tests."""
    if in_ci():
        pytest.fail(f"CI=true but {what} cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def stop_hosts(made: Sequence[Stoppable], what: str) -> None:
    """Stop every host a fixture made, newest first, all of them before reporting failures."""
    errors = []
    for host in reversed(made):
        try:
            host.stop()
        except Exception as exc:  # stop the rest before reporting
            errors.append(f"{host!r}: {exc}")
    if errors:
        pytest.fail(f"stopping {what} failed: " + "; ".join(errors), pytrace=False)
