"""The shell of the repository: `make lint` checks every script, and txn.sh speaks only the
protocol hardening/change/protocol.py defines (its modes, its markers: no second copy)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from hardening.change.protocol import Marker, Mode
from hardening.host.shell import script_text, shipped

# Where each on-host script lives: the scripts/ folder of the layer that runs it.
HOME = {"common.sh": "hardening.host", "facts.sh": "hardening.host", "txn.sh": "hardening.change"}

ROOT = Path(__file__).resolve().parents[2]
_SKIP = {".git", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}


def _shell_scripts() -> set[str]:
    """Files named *.sh, or that start with a sh/bash shebang (the venvs are not ours)."""
    found = set()
    for top, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in _SKIP and not d.startswith("venv")]
        for name in files:
            path = Path(top, name)
            with path.open("rb") as f:
                first = f.readline(128)
            if name.endswith(".sh") or re.match(rb"#!\S*(/| )(ba)?sh\b", first):
                found.add(str(path.relative_to(ROOT)))
    return found


def _linted() -> set[str]:
    """What the Makefile's SHELL_SCRIPTS names (its wildcards expanded, like make does)."""
    m = re.search(r"^SHELL_SCRIPTS = (.*)$", (ROOT / "Makefile").read_text(), re.M)
    assert m is not None, "the Makefile has no SHELL_SCRIPTS"
    words = re.sub(r"\$\(wildcard ([^)]*)\)", r"\1", m.group(1)).split()
    return {str(p.relative_to(ROOT)) for w in words for p in ROOT.glob(w)}


def test_make_lint_runs_shellcheck_over_every_shell_script() -> None:
    scripts = _shell_scripts()
    assert {"hardening/change/scripts/txn.sh", "scripts/lock.sh", ".ci/run"} <= scripts
    assert scripts - _linted() == set(), "add them to SHELL_SCRIPTS in the Makefile"
    lint = re.search(r"^lint:.*?(?=^\S)", (ROOT / "Makefile").read_text(), re.M | re.S)
    assert lint is not None and "shellcheck $(SHELL_SCRIPTS)" in lint.group(0)


def test_txn_sh_dispatches_exactly_the_protocols_modes_and_its_header_lists_them() -> None:
    text = script_text("txn.sh", HOME["txn.sh"])
    dispatcher = re.search(r"^txn\(\) \{\n(.*?)^\}", text, re.M | re.S)
    assert dispatcher is not None
    arms = re.findall(r"^    ([a-z_]+)\) ", dispatcher.group(1), re.M)
    modes = {m.value for m in Mode}
    assert sorted(arms) == sorted(modes)
    listed = re.search(r"^# Modes:\n((?:#   .*\n)+)", text, re.M)
    assert listed is not None
    words = re.findall(r"(?:^#   |\| )([a-z_]+)", listed.group(1), re.M)
    assert sorted(words) == sorted(modes)


def test_txn_sh_says_no_marker_and_no_exit_code_of_its_own() -> None:
    """Markers and exit codes come from protocol.py's assignments, never from a copy."""
    code = "\n".join(
        ln for ln in script_text("txn.sh", HOME["txn.sh"]).splitlines() if not ln.startswith("#")
    )
    for marker in Marker:
        assert marker.value not in code, marker
    assert not re.search(r"\b(exit|die) 1[0-4]\b", code)


@pytest.mark.parametrize("name", ["common.sh", "facts.sh", "txn.sh"])
def test_a_script_without_its_comments_is_still_whole_shell(name: str) -> None:
    """What goes over the wire drops comment lines: none of them sat inside a string."""
    text = shipped(name, HOME[name])
    assert "#" not in "".join(ln.lstrip()[:1] for ln in text.splitlines())
    assert subprocess.run(["sh", "-n"], input=text, text=True, check=False).returncode == 0
    code = [
        ln for ln in script_text(name, HOME[name]).splitlines() if not ln.lstrip().startswith("#")
    ]
    assert text.splitlines() == code


@pytest.mark.parametrize("name", ["common.sh", "facts.sh", "txn.sh", "admin.sh", "admin_undo.sh"])
def test_values_reach_a_script_only_through_its_assignments(name: str) -> None:
    """One templating scheme (host/shell.py's `assign`): no `@NAME@` placeholder is left in a
    script's code, where it would reach the host as literal text."""
    home = HOME.get(name, "hardening.change")
    code = [ln for ln in shipped(name, home).splitlines()]
    assert [ln for ln in code if re.search(r"@[A-Z][A-Z_]*@", ln)] == []
