"""Recorded and constructed `facts.sh` outputs for nine distributions, and what each must yield.

debian-11/12/13.txt are recorded (record_debian.py, a real chroot of the cached Debian roots);
the others are constructed from each distribution's defaults (assemble.py over the data in
constructed/; README.md) and say so in their first line. Tests load them through
`facts_text`/`load_facts` and compare with `EXPECTED`, read from SLUG/expect.yaml.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

from hardening.host.facts import HostFacts, parse_facts
from hardening.host.paths import DROPIN_DIR, MAIN_CONFIG
from hardening.model.client import CLIENT_ALGORITHMS
from hardening.model.desired import Request
from hardening.planning import sshd_config
from hardening.planning.plan import DROPIN_PATH, SYSCONFIG_SSHD, Plan, make_plan
from tests.facts.expect import Expect, load_all

FACTS_DIR = Path(__file__).resolve().parent


# What each must yield: SLUG/expect.yaml, one per distribution (expect.py).
EXPECTED: dict[str, Expect] = load_all(FACTS_DIR)
SLUGS = tuple(EXPECTED)
WITH_INCLUDE = tuple(s for s, e in EXPECTED.items() if e.mode == "dropin")
WITHOUT_INCLUDE = tuple(s for s, e in EXPECTED.items() if e.mode == "inplace")


def facts_path(slug: str) -> Path:
    return FACTS_DIR / f"{slug}.txt"


@functools.cache
def facts_text(slug: str) -> str:
    return facts_path(slug).read_text()


@functools.cache
def load_facts(slug: str) -> HostFacts:
    return parse_facts(facts_text(slug))


def plan_for(
    facts: HostFacts, request: Request | None = None, connected_user: str = "root"
) -> Plan:
    return make_plan(request or Request(), facts, CLIENT_ALGORITHMS, connected_user)


def applied(facts: HostFacts, plan: Plan) -> HostFacts:
    """The facts as they would read after the plan's files are in place and sshd reloaded or,
    when the plan says so, restarted (its command line then loses the -o options that came
    from the unit's environment), with the modes and owners it sets (a written file is staged
    root:root 0600). `effective` is left as it was."""
    main = facts.main_config
    dropins = dict(facts.dropins)
    sysconfig = facts.sysconfig_sshd
    cmdline = facts.listener_cmdline
    if plan.restart_needed:
        cmdline = " ".join(t for t in cmdline.split() if not t.startswith("-o")) + " "
    for change in plan.files:
        if change.path == MAIN_CONFIG:
            assert change.content is not None
            main = change.content
        elif change.path == DROPIN_PATH:
            if change.content is None:
                dropins.pop(sshd_config.DROPIN_NAME, None)
            else:
                dropins[sshd_config.DROPIN_NAME] = change.content
        elif change.path == SYSCONFIG_SSHD:
            sysconfig = change.content
        else:  # pragma: no cover - a plan only writes these two paths
            raise AssertionError(f"unexpected path in plan: {change.path} (not under {DROPIN_DIR})")
    return dataclasses.replace(
        facts,
        main_config=main,
        dropins=dropins,
        sysconfig_sshd=sysconfig,
        listener_cmdline=cmdline.strip(),
        file_modes=_modes_after(facts.file_modes, plan),
    )


def _modes_after(
    before: dict[str, tuple[str, str, str]] | None, plan: Plan
) -> dict[str, tuple[str, str, str]] | None:
    if before is None:
        return None
    after = dict(before)
    for change in plan.files:
        if change.content is None:
            after.pop(change.path, None)
        else:
            after[change.path] = ("600", "root", "root")
    for m in plan.modes:
        after[m.path] = (m.mode, m.owner, m.group)
    return after
