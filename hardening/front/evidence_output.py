"""`check --report FILE --format ...`: the report path checked before connecting, and written.

Formats: table (the default: readable in a terminal), json, junit, hdf. `--report -` writes to
standard output. The file is written whole or not at all (a temporary file renamed).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hardening.front import evidence_hdf, evidence_json, evidence_junit, evidence_table
from hardening.ops.evidence import Evidence, HostEvidence, unreachable

REPORT_FORMATS = ("table", "json", "junit", "hdf")
DEFAULT_REPORT_FORMAT = "table"
_RENDER: dict[str, Callable[[Evidence], str]] = {
    "table": evidence_table.render,
    "json": evidence_json.render,
    "junit": evidence_junit.render,
    "hdf": evidence_hdf.render,
}


def report_path_problem(path: str) -> str | None:
    """Why `--report PATH` cannot be written (checked before any host is contacted)."""
    if path == "-":
        return None
    p = Path(path).expanduser()
    if p.is_dir():
        return f"--report {path}: is a directory; give a file name"
    parent = p.parent
    if not parent.is_dir():
        return f"--report {path}: no directory {parent}; create it or choose another path"
    # Try it: permission bits do not tell root about read-only mounts.
    try:
        fd, probe = tempfile.mkstemp(dir=parent, prefix=f".{p.name}.")
        os.close(fd)
        os.unlink(probe)
        if p.exists():
            with p.open("a"):
                pass
    except OSError as exc:
        return f"--report {path}: cannot write there ({exc.strerror}); choose a writable path"
    return None


def gather(reports: Sequence[Any]) -> Evidence:
    """One Evidence for every host run: its control results, or why it was not checked."""
    hosts: list[HostEvidence] = []
    for r in reports:
        found = getattr(r, "evidence", None)
        hosts.append(found if found is not None else unreachable(r.host, r.port, r.error or "?"))
    return Evidence(tuple(hosts))


def write(path: str, fmt: str, evidence: Evidence) -> None:
    text = _RENDER[fmt](evidence)
    if path == "-":
        sys.stdout.write(text)
        return
    target = Path(path).expanduser()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
