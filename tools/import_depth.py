"""The longest chain of imports inside hardening/ (module -> module it imports -> ...).

    venv/bin/python tools/import_depth.py [--lazy]

Module-level imports only, unless --lazy (imports inside functions count too). Prints the
depth (modules in the chain) and the chain itself.
"""

from __future__ import annotations

import ast
import sys
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "hardening"


def module_names() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] != "__init__":
            out[".".join(parts)] = path
    return out


def imports(path: Path, known: dict[str, Path], lazy: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = ast.walk(tree) if lazy else iter(tree.body)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return {name for name in found if name in known}


def main() -> None:
    lazy = "--lazy" in sys.argv
    known = module_names()
    graph = {m: imports(p, known, lazy) for m, p in known.items()}

    @cache
    def longest(m: str, path: tuple[str, ...] = ()) -> tuple[str, ...]:
        best: tuple[str, ...] = ()
        for n in sorted(graph[m]):
            if n not in path:  # a cycle through lazy imports ends the chain
                chain = longest(n, (*path, m))
                best = chain if len(chain) > len(best) else best
        return (m, *best)

    chain = max((longest(m) for m in sorted(graph)), key=len)
    print(f"import depth {len(chain)}: {' -> '.join(chain)}")


if __name__ == "__main__":
    main()
