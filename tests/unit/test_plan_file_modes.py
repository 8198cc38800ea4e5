"""`apply` sets the modes and owners the catalogue's file controls ask (CIS 5.1.1-5.1.3), and
`plan` and `check` show them (planning/file_modes.py)."""

from __future__ import annotations

import dataclasses
import io

import pytest

from hardening.front.cli import render
from hardening.host.paths import MAIN_CONFIG
from hardening.planning.control_eval import PASS, HostView, evaluate
from hardening.planning.file_modes import mode_changes
from tests.facts import SLUGS, WITH_INCLUDE, WITHOUT_INCLUDE, applied, load_facts, plan_for

FILE_CONTROLS = ("sshd-config-perms", "host-private-key-perms", "host-public-key-perms")


@pytest.mark.parametrize("slug", WITH_INCLUDE)
def test_a_drop_in_host_gets_sshd_config_0600_and_nothing_else(slug: str) -> None:
    """Debian and Ubuntu ship it 0644, the RHEL family 0600; the images' host keys pass."""
    facts = load_facts(slug)
    plan = plan_for(facts)
    shipped = (facts.file_modes or {})[MAIN_CONFIG][0]
    want = [] if shipped == "600" else [f"{MAIN_CONFIG} mode 0{shipped} -> 0600"]
    assert [m.describe() for m in plan.modes] == want
    assert shipped in ("600", "644"), slug


@pytest.mark.parametrize("slug", WITHOUT_INCLUDE)
def test_a_main_file_the_plan_writes_needs_no_mode_of_its_own(slug: str) -> None:
    """The transaction stages every file it writes root:root 0600."""
    facts = load_facts(slug)
    modes = dict(facts.file_modes or {})
    modes[MAIN_CONFIG] = ("644", "root", "root")
    plan = plan_for(dataclasses.replace(facts, file_modes=modes))
    assert MAIN_CONFIG in [f.path for f in plan.files]
    assert plan.modes == []


@pytest.mark.parametrize("slug", SLUGS)
def test_after_apply_every_file_control_passes_and_nothing_is_left_to_do(slug: str) -> None:
    facts = load_facts(slug)
    plan = plan_for(facts)
    after = applied(facts, plan)
    assert plan_for(after).modes == []
    results = {r.control.id: r.status for r in evaluate(HostView.of(after))}
    assert all(results[c] == PASS for c in FILE_CONTROLS), results


def test_a_bit_is_taken_away_never_added_and_the_owner_goes_to_root() -> None:
    modes = {
        MAIN_CONFIG: ("400", "root", "root"),  # stricter than asked: left alone
        "/etc/ssh/ssh_host_rsa_key": ("640", "root", "root"),  # 0640 only for ssh_keys
        "/etc/ssh/ssh_host_ed25519_key": ("4644", "ops", "ops"),
        "/etc/ssh/ssh_host_rsa_key.pub": ("664", "root", "adm"),
        "/etc/ssh/ssh_host_ed25519_key.pub": ("444", "root", "root"),
    }
    got = {m.path: (m.mode, m.owner, m.group) for m in mode_changes(modes)}
    assert got == {
        "/etc/ssh/ssh_host_rsa_key": ("600", "root", "root"),
        "/etc/ssh/ssh_host_ed25519_key": ("600", "root", "root"),
        "/etc/ssh/ssh_host_rsa_key.pub": ("644", "root", "root"),
    }
    described = [m.describe() for m in mode_changes(modes)]
    assert "/etc/ssh/ssh_host_ed25519_key mode 4644 -> 0600, owner ops:ops -> root:root" in (
        described
    )
    assert "/etc/ssh/ssh_host_rsa_key.pub mode 0664 -> 0644, owner root:adm -> root:root" in (
        described
    )


def test_the_rhel_familys_ssh_keys_group_is_kept() -> None:
    modes = {"/etc/ssh/ssh_host_rsa_key": ("644", "root", "ssh_keys")}
    (change,) = mode_changes(modes)
    assert (change.mode, change.owner, change.group) == ("640", "root", "ssh_keys")
    assert change.describe() == "/etc/ssh/ssh_host_rsa_key mode 0644 -> 0640"


def test_rhel_as_shipped_needs_no_mode_change() -> None:
    assert plan_for(load_facts("rocky-9")).modes == []


def test_facts_without_modes_change_no_mode() -> None:
    facts = dataclasses.replace(load_facts("debian-12"), file_modes=None)
    assert plan_for(facts).modes == []


def _report(action: str, modes: list[str], drift: list[str]) -> dict[str, object]:
    settings = {"PermitRootLogin": {"wanted": "no", "before": "yes", "after": "yes"}}
    return {
        "action": action,
        "host": "192.0.2.10",
        "port": 22,
        "user": "root",
        "error": None,
        "settings": settings if drift else {},
        "drift": drift,
        "files": [],
        "modes": modes,
    }


def test_plan_and_check_show_each_mode_change() -> None:
    line = f"{MAIN_CONFIG} mode 0644 -> 0600"
    out = io.StringIO()
    render(_report("plan", [line], []), out)
    assert out.getvalue().splitlines() == [
        "192.0.2.10:22: 0 setting(s) to change; files to write: none; file modes to change: 1 "
        "(as root)",
        f"  {line}",
    ]
    out = io.StringIO()
    render(_report("check", [line], ["PermitRootLogin"]), out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "192.0.2.10:22: drift in 1 setting(s) and 1 file mode(s) (as root)"
    assert lines[-1] == f"  {line}"


def test_without_mode_changes_the_lines_are_as_before() -> None:
    out = io.StringIO()
    render(_report("plan", [], []), out)
    want = "192.0.2.10:22: 0 setting(s) to change; files to write: none (as root)\n"
    assert out.getvalue() == want
