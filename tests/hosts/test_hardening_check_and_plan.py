"""Proof (issue 2), `python -m hardening` against real OpenSSH hosts, run as an operator runs it
(the hosts and how they are judged: tests/hosts/hardening_case.py): check and plan,
which change nothing.
"""

from __future__ import annotations

import re

import pytest

from tests.helpers.chroot_observe import (
    MAIN_CONFIG,
    access,
    listener,
    mode_lines,
    snapshot,
    snapshot_diff,
    table_rows,
)
from tests.helpers.cli import cli_json, must
from tests.hosts.hardening_case import Case

pytestmark = pytest.mark.host


def _image_modes(case: Case) -> list[str]:
    """The mode changes an apply makes on a fresh image: Debian ships sshd_config 0644. Without
    Include the apply rewrites that file (staged root:root 0600): no change of its own."""
    return [f"{MAIN_CONFIG} mode 0644 -> 0600"] if case.variant.include else []


# --------------------------------------------------------------------------- check


def test_check_reports_drift_then_compliance(case: Case) -> None:
    host = case.host
    files, listening = snapshot(host), listener(host)

    drift = must(case.cli("check"), 1)

    lines = drift.stdout.splitlines()
    rows = table_rows(drift.stdout)
    modes = _image_modes(case)
    also = f" and {len(modes)} file mode(s)" if modes else ""
    assert lines[0] == f"{case.prefix}: drift in {len(rows)} setting(s){also} (as root)"
    assert mode_lines(drift.stdout) == modes
    assert re.split(r"\s{2,}", lines[1].strip()) == ["directive", "wanted", "effective"]
    table = {r[0]: r[1:] for r in rows}
    assert table["PermitRootLogin"] == ["no", "yes"]
    assert table["PasswordAuthentication"] == ["no", "yes"]
    assert table["AuthenticationMethods"] == ["publickey", "any"]
    assert table["MaxAuthTries"] == ["3", "6"]
    assert table["X11Forwarding"] == ["no", "yes"]  # Debian's main file sets it
    assert "PubkeyAuthentication" not in table  # compliant already: not drift
    assert "KbdInteractiveAuthentication" not in table  # Debian turns it off
    as_json = cli_json(must(case.cli("check", "--json"), 1))
    assert as_json["compliant"] is False and as_json["exit_code"] == 1
    assert as_json["changed"] is False
    assert as_json["modes"] == modes
    assert set(as_json["drift"]) == set(table)
    # Read-only: not a file, not the listener.
    assert snapshot_diff(files, snapshot(host)) == []
    assert listener(host) == listening

    must(case.cli("apply"))
    for user in ("ops", "root"):  # root is refused now and falls back to ops
        ok = must(case.cli("check", user=user))
        count = len(as_json["settings"])
        assert ok.stdout == f"{case.prefix}: compliant ({count} settings) (as ops)\n"
    assert cli_json(must(case.cli("check", "--json")))["drift"] == []


# --------------------------------------------------------------------------- plan


def test_plan_changes_nothing_and_lists_what_apply_will_change(case: Case) -> None:
    host = case.host
    files, listening, written = snapshot(host), listener(host), set(host.changed_paths())

    shown = must(case.cli("plan"))
    as_json = cli_json(must(case.cli("plan", "--json")))

    rows = table_rows(shown.stdout)
    lines = shown.stdout.splitlines()
    modes = _image_modes(case)
    also = f"; file modes to change: {len(modes)}" if modes else ""
    assert lines[0] == (
        f"{case.prefix}: {len(rows)} setting(s) to change; files to write: "
        f"{case.variant.written}{also} (as root)"
    )
    assert mode_lines(shown.stdout) == modes
    assert as_json["modes"] == modes
    assert re.split(r"\s{2,}", lines[1].strip()) == ["directive", "effective now", "wanted"]
    table = {r[0]: r[1:] for r in rows}
    assert table["PermitRootLogin"] == ["yes", "no"]
    assert table["PasswordAuthentication"] == ["yes", "no"]
    assert "PubkeyAuthentication" not in table
    assert as_json["files"] == [case.variant.written]
    assert as_json["changed"] is False and as_json["error"] is None
    assert set(as_json["drift"]) == set(table)
    assert "root will lose SSH login: ops would be ensured and proven first" in as_json["notes"]

    # Nothing on the host moved: files, accounts, listener, anything else written.
    assert snapshot_diff(files, snapshot(host)) == []
    assert listener(host) == listening
    assert host.run("id ops").returncode != 0
    new = sorted(set(host.changed_paths()) - written)
    # Written by sshd and PAM for the engine's root session (wtmp, lastlog, pam_motd).
    login_records = ("/var/log/", "/run/utmp", "/var/run/utmp", "/run/motd.dynamic")
    assert [p for p in new if not p.startswith(login_records)] == []
    image = access(host, case.key)
    assert image.root_key and image.root_password

    # And the plan was right: apply changes exactly those settings, in exactly those files.
    applied = case.apply_json()
    assert applied["files"] == as_json["files"]
    changed = {n for n, s in applied["settings"].items() if s["before"] != s["after"]}
    assert changed == set(as_json["drift"])
    after = must(case.cli("plan"))
    assert after.stdout == (
        f"{case.prefix}: 0 setting(s) to change; files to write: none (as ops)\n"
    )
