"""The dependency locks agree with the inputs people edit (`make lock` regenerates them).

Each lock (*.txt) is pip-compile's resolution of its input (*.in): every package of the closure
pinned with its hashes. These tests read both files, offline, and fail when someone edited one
without the other: a pin bumped in an input but not resolved, a dependency added or removed on
one side only, a hash missing, or two locks that would install different versions of the same
package into one venv.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# (input, lock, the locks it is resolved within: same versions for what they share)
SETS = [
    ("requirements.in", "requirements.txt", []),
    ("requirements-dev.in", "requirements-dev.txt", ["requirements.txt"]),
    ("bench/requirements.in", "bench/requirements.txt", []),
]

_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:==\s*([^\s;\\]+))?")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Input:
    """The direct requirements of an input file, following its `-r` includes."""

    pins: dict[str, str | None] = field(default_factory=dict)  # name -> version (None: any)
    files: set[str] = field(default_factory=set)  # the input files read, as "via -r" names them


def read_input(path: Path, into: Input | None = None, base: Path | None = None) -> Input:
    into = into or Input()
    base = base or path.parent
    into.files.add(str(path.relative_to(base)) if path.is_relative_to(base) else path.name)
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-c"):
            continue
        if line.startswith("-r"):
            read_input(path.parent / line[2:].strip(), into, base)
            continue
        m = _NAME.match(line)
        assert m, f"{path}: cannot read {raw!r}"
        into.pins[canonical(m.group(1))] = m.group(2)
    return into


@dataclass
class Locked:
    version: str
    hashes: int
    via: list[str]


def read_lock(path: Path) -> dict[str, Locked]:
    packages: dict[str, Locked] = {}
    current: Locked | None = None
    in_via = False
    for raw in path.read_text().splitlines():
        if raw and not raw[0].isspace() and not raw.startswith("#"):
            m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", raw)
            assert m, f"{path}: not an exact pin: {raw!r}"
            current = Locked(m.group(2), 0, [])
            packages[canonical(m.group(1))] = current
            in_via = False
        elif current is not None and "--hash=sha256:" in raw:
            current.hashes += 1
        elif current is not None and raw.strip().startswith("# via"):
            in_via = True
            rest = raw.strip()[len("# via") :].strip()
            if rest:
                current.via.append(rest)
        elif current is not None and in_via and raw.strip().startswith("#   "):
            current.via.append(raw.strip()[1:].strip())
        else:
            in_via = False
    return packages


def lock_problems(root: Path, source: str, lock: str, within: list[str]) -> list[str]:
    """What disagrees between an input and its lock (and the locks it is resolved within)."""
    wanted = read_input(root / source)
    locked = read_lock(root / lock)
    problems: list[str] = []
    if not locked:
        problems.append(f"{lock} pins nothing")
    for name, version in wanted.pins.items():
        if name not in locked:
            problems.append(f"{source} asks for {name}, {lock} lacks it")
        elif version is not None and locked[name].version != version:
            problems.append(f"{source} pins {name}=={version}, {lock} has {locked[name].version}")
    for name, entry in locked.items():
        if entry.hashes == 0:
            problems.append(f"{lock}: {name} has no hashes")
        direct = [v for v in entry.via if v.startswith("-r ")]
        named = [v for v in entry.via if not v.startswith("-")]
        if not (direct or named):
            problems.append(f"{lock}: {name} says nothing of why it is there")
        if direct and name not in wanted.pins:
            problems.append(f"{lock}: {name} is no longer in {source}")
        for parent in named:
            if canonical(parent.split()[0]) not in locked:
                problems.append(f"{lock}: {name} via {parent}, which it does not pin")
    for other in within:
        for name, entry in read_lock(root / other).items():
            if name not in locked:
                problems.append(f"{lock} lacks {name}, which {other} installs")
            elif locked[name].version != entry.version:
                problems.append(
                    f"{name}: {lock} has {locked[name].version}, {other} {entry.version}"
                )
    header = (root / lock).read_text().splitlines()[4:5]
    if not header or "--generate-hashes" not in header[0] or Path(source).name not in header[0]:
        problems.append(f"{lock}: not pip-compile's hashed lock of {source}")
    return problems


@pytest.mark.parametrize(("source", "lock", "within"), SETS, ids=[s[1] for s in SETS])
def test_each_lock_agrees_with_its_input(source: str, lock: str, within: list[str]) -> None:
    problems = lock_problems(ROOT, source, lock, within)
    assert not problems, "run `make lock`:\n" + "\n".join(problems)


def copy_set(tmp_path: Path) -> Path:
    for name in ("requirements.in", "requirements.txt", "requirements-dev.in"):
        (tmp_path / name).write_text((ROOT / name).read_text())
    (tmp_path / "requirements-dev.txt").write_text((ROOT / "requirements-dev.txt").read_text())
    return tmp_path


def test_a_pin_bumped_without_make_lock_is_seen(tmp_path: Path) -> None:
    root = copy_set(tmp_path)
    text = (root / "requirements.in").read_text()
    (root / "requirements.in").write_text(re.sub(r"paramiko==\S+", "paramiko==99.0.0", text))
    problems = lock_problems(root, "requirements.in", "requirements.txt", [])
    assert any("paramiko==99.0.0" in p for p in problems), problems


def test_a_dependency_added_or_removed_on_one_side_is_seen(tmp_path: Path) -> None:
    root = copy_set(tmp_path)
    source = root / "requirements.in"
    source.write_text(source.read_text() + "rich==14.0.0\n")
    assert any("rich" in p for p in lock_problems(root, "requirements.in", "requirements.txt", []))
    source.write_text(re.sub(r"(?m)^pyyaml==.*$", "", (ROOT / "requirements.in").read_text()))
    problems = lock_problems(root, "requirements.in", "requirements.txt", [])
    assert any("pyyaml is no longer" in p for p in problems), problems


def test_a_missing_hash_and_a_diverging_shared_version_are_seen(tmp_path: Path) -> None:
    root = copy_set(tmp_path)
    lock = root / "requirements.txt"
    lines = lock.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("paramiko=="))
    end = next(i for i in range(start + 1, len(lines)) if "--hash" not in lines[i])
    lock.write_text("\n".join([*lines[:start], "paramiko==5.1.0", *lines[end:]]) + "\n")
    problems = lock_problems(root, "requirements.in", "requirements.txt", [])
    assert "requirements.txt: paramiko has no hashes" in problems
    lock.write_text(
        (ROOT / "requirements.txt").read_text().replace("paramiko==5.1.0", "paramiko==5.0.0")
    )
    dev = lock_problems(root, "requirements-dev.in", "requirements-dev.txt", ["requirements.txt"])
    assert any(p.startswith("paramiko: requirements-dev.txt has 5.1.0") for p in dev), dev


def test_installs_check_hashes() -> None:
    # Every place that installs a lock asks pip to check its hashes.
    makefile = (ROOT / "Makefile").read_text()
    assert "PIP_INSTALL = pip install -q --disable-pip-version-check --require-hashes" in makefile
    assert makefile.count("$(PIP_INSTALL) -r") == 2  # the dev venv and the bench venv
    assert "--require-hashes -r requirements.txt" in (ROOT / "scripts" / "up.sh").read_text()
