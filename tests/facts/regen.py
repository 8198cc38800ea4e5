"""Golden plans: the drop-in or managed block each distribution gets, as files beside its facts.

    venv/bin/python -m tests.facts.regen [SLUG ...]

rewrites tests/facts/SLUG/expected-dropin.conf (drop-in mode) or expected-block.conf (in-place:
the block, BEGIN to END, that goes on top of the untouched main file) from today's make_plan
with the default request, and removes the other. tests/unit/test_plan_golden.py fails with a
diff while a file and the plan disagree: regenerate only for a change you mean, and review
`git diff tests/facts` before committing it.
"""

from __future__ import annotations

import difflib
import sys

from hardening.planning import sshd_config
from tests.facts import FACTS_DIR, SLUGS, load_facts, plan_for

DROPIN_FILE = "expected-dropin.conf"
BLOCK_FILE = "expected-block.conf"
GOLDEN_FILES = (DROPIN_FILE, BLOCK_FILE)


def planned(slug: str) -> dict[str, str]:
    """The golden file the plan for this distribution's facts yields today, name -> content."""
    plan = plan_for(load_facts(slug))
    content = plan.files[0].content
    assert content is not None, f"{slug}: the plan's first file is a removal"
    if plan.mode == "dropin":
        return {DROPIN_FILE: content}
    block, sep, _ = content.partition(sshd_config.END + "\n")
    assert sep, f"{slug}: the in-place file has no {sshd_config.END!r} line"
    return {BLOCK_FILE: block + sep}


def recorded(slug: str) -> dict[str, str]:
    """The golden files on disk for this distribution, name -> content."""
    folder = FACTS_DIR / slug
    return {n: (folder / n).read_text() for n in GOLDEN_FILES if (folder / n).is_file()}


def diff(slug: str) -> str:
    """A unified diff from the files on disk to the plan; empty when they agree."""
    on_disk, plan = recorded(slug), planned(slug)
    out: list[str] = []
    for name in GOLDEN_FILES:
        if name not in on_disk and name not in plan:
            continue
        path = f"tests/facts/{slug}/{name}"
        out += difflib.unified_diff(
            on_disk.get(name, "").splitlines(keepends=True),
            plan.get(name, "").splitlines(keepends=True),
            fromfile=path if name in on_disk else "/dev/null",
            tofile=f"make_plan({slug})" if name in plan else "/dev/null",
        )
    return "".join(out)


def write(slug: str) -> None:
    folder = FACTS_DIR / slug
    plan = planned(slug)
    for name in GOLDEN_FILES:
        if name in plan:
            (folder / name).write_text(plan[name])
        else:
            (folder / name).unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    unknown = [s for s in argv if s not in SLUGS]
    if unknown:
        print(f"unknown distribution {', '.join(unknown)}: one of {', '.join(SLUGS)}")
        return 2
    for slug in argv or SLUGS:
        changed = bool(diff(slug))
        write(slug)
        print(f"{slug}: {'rewritten' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
