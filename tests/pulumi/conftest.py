"""What the tests of the real Pulumi CLI share: the CLI itself (a missing one fails them, with
the line that says how to get it: a test that did not run is not a pass)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.engine_stack import CliUnavailable, cli_dir


@pytest.fixture(scope="module")
def cli() -> Path:
    try:
        return cli_dir()
    except CliUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
