"""hardening/'s layers run one way: a module imports only its own layer and the ones below.

The order is hardening/__init__.py's; __main__ is the command line's entry point (a front end).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "hardening"
# Lowest first.
LAYERS = ("model", "host", "planning", "ssh", "change", "ops", "front")


def layer_of(module: str) -> str | None:
    """The layer of a module named like `hardening.ops.engine` (None: not ours, or the root)."""
    parts = module.split(".")
    if parts[0] != "hardening" or len(parts) < 2:
        return None
    if parts[1] == "__main__":
        return "front"
    return parts[1]


def imported(source: str, module: str) -> list[tuple[int, str]]:
    """Every module `source` imports (at any depth: lazy imports in functions count too)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the importing module's package
                package = module.split(".")[: -node.level]
                base = ".".join([*package, base] if base else package)
            if base == "hardening":  # `from hardening import ops`: the name is the layer
                found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, base))
    return found


def crossings(source: str, module: str) -> list[str]:
    """The imports of `module` that run upward (into a layer above its own)."""
    own = layer_of(module)
    if own is None:
        return []
    wrong = []
    for line, target in imported(source, module):
        theirs = layer_of(target)
        if theirs in LAYERS and LAYERS.index(theirs) > LAYERS.index(own):
            wrong.append(f"{module}:{line} imports {target} ({own} -> {theirs})")
    return wrong


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out.append((".".join(parts), path))
    return out


def test_every_module_is_in_a_known_layer() -> None:
    stray = [m for m, _ in modules() if m != "hardening" and layer_of(m) not in LAYERS]
    assert stray == [], f"put each module in one of {LAYERS}"


def test_no_import_runs_upward() -> None:
    wrong = [c for m, p in modules() for c in crossings(p.read_text(), m)]
    assert wrong == [], "\n".join(wrong)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("hardening.host.facts", "from hardening.model.desired import Request\n"
         "from hardening.ops.report import Report\n"),
        ("hardening.model.validation", "def f():\n    from hardening.ssh import transport\n"),
        ("hardening.ssh.keys", "import hardening.front.cli\n"),
        ("hardening.planning.plan", "from ..change.transaction import Transaction\n"),
        ("hardening.model.values", "from hardening import model, ops\n"),
    ],
)  # fmt: skip
def test_an_upward_import_is_found(module: str, source: str) -> None:
    # The check itself can fail: each of these sources has exactly one upward import.
    assert len(crossings(source, module)) == 1, crossings(source, module)


def test_downward_and_outside_imports_pass() -> None:
    source = (
        "import paramiko\nfrom hardening.model.errors import UsageError\n"
        "from hardening.ssh.transport import connect\nfrom . import session\n"
    )
    assert crossings(source, "hardening.ops.engine") == []
