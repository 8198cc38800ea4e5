"""Faults 9, 10 and 11: no space, two applies at once, an apply cut at each step: the host stays
whole and the next apply converges (issue 5).

See tests/helpers/fault_proofs.py for what is proven after each fault.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator

import pytest

from tests.helpers.cli import Outcome
from tests.helpers.fault_proofs import (
    LOCK,
    FaultCaseFactory,
    assert_new,
    assert_no_admin_left,
    assert_old,
    converge,
    effective,
    is_complete_new,
    lock_gone,
    old_or_new,
    poll,
    snapshot,
)
from tests.testhosts.chroot import LOOPBACK, TestHost

# --------------------------------------------------------------------------- 9: no space


def test_09_no_space_left_for_the_candidate_exits_4_and_old_files_are_intact(
    fault_case: FaultCaseFactory,
) -> None:
    host, key, cli = fault_case("bookworm")
    # Inside the host only: /etc/ssh becomes a full 1 MiB tmpfs with the same contents.
    host.run(
        "set -e; cp -a /etc/ssh /tmp/etc-ssh; mount -t tmpfs -o size=1m,mode=755 tmpfs /etc/ssh;"
        " cp -a /tmp/etc-ssh/. /etc/ssh/;"
        " dd if=/dev/zero of=/etc/ssh/.filler bs=4k 2>/dev/null || true;"
        " test \"$(df --output=avail /etc/ssh | tail -n 1 | tr -d ' ')\" = 0",
        check=True,
    )
    before = snapshot(host)
    out = cli.run("apply")
    assert out.code == 4, out
    assert "could not stage the new configuration, nothing changed" in out.stdout, out
    assert "No space left on device" in out.stdout, out
    assert "reloaded" not in out.stderr
    assert_old(host, before, key, admin_too=False)
    admin_left = snapshot(host).admin - before.admin
    host.run("rm /etc/ssh/.filler", check=True)
    converge(host, cli, key)
    assert_no_admin_left(admin_left)


# --------------------------------------------------------------------------- 10: at once


def test_10_second_apply_refuses_or_waits_while_the_first_holds_the_host(
    fault_case: FaultCaseFactory,
) -> None:
    host, key, cli = fault_case("bookworm")
    first = cli.start("apply", "--set", "MaxAuthTries=4", confirm_timeout=60)
    first.wait_for("reloaded sshd")
    first.pause()  # holds the transaction: committed, not yet confirmed
    try:
        impatient = cli.run("apply", "--set", "MaxAuthTries=5", wait=3)
        assert impatient.code == 4, impatient
        assert "another apply is in progress on the host" in impatient.stdout, impatient
        assert LOCK in impatient.stdout and "gave up after --wait 3s" in impatient.stdout
        patient = cli.start("apply", "--set", "MaxAuthTries=5", wait=60, confirm_timeout=60)
        patient.wait_for("another apply is in progress")
        # Meanwhile the first one's complete configuration is what sshd serves.
        assert not is_complete_new(effective(host), {"maxauthtries": "4"})
    finally:
        first.resume()
    done_first = first.finish()
    assert done_first.code == 0, done_first
    done_patient = patient.finish()
    assert done_patient.code == 0, done_patient
    assert "hardened and confirmed" in done_patient.stderr
    # Strictly one after the other: the last one's complete configuration, nothing mixed.
    assert_new(host, cli, key, {"maxauthtries": "5"})
    plan = cli.run("plan", "--set", "MaxAuthTries=5")
    assert plan.code == 0 and "files to write: none" in plan.stdout, plan


_SLOW_VISUDO = """#!/bin/sh
# Slows the admin step down so that two applies are inside it at the same time.
touch /run/visudo-entered
sleep 5
exec /usr/sbin/visudo "$@"
"""


def test_10_two_applies_started_together_never_interleave(fault_case: FaultCaseFactory) -> None:
    host, key, cli = fault_case("bookworm")
    cli.run("plan")  # record the host key once, so both runs share known_hosts read-only
    host.run(
        "cat > /usr/local/sbin/visudo && chmod 755 /usr/local/sbin/visudo",
        input=_SLOW_VISUDO,
        check=True,
    )
    a = cli.start("apply", "--set", "MaxAuthTries=4", wait=90, confirm_timeout=60)
    poll("the first apply in the admin step", lambda: host.path("run/visudo-entered").exists(), 60)
    b = cli.start("apply", "--set", "MaxAuthTries=5", wait=90, confirm_timeout=60)
    out_a, out_b = a.finish(), b.finish()
    host.run("rm -f /usr/local/sbin/visudo", check=True)
    codes = sorted([out_a.code, out_b.code])
    # B came while A was inside the admin step: it must have met A's lock, not slipped past.
    assert "another apply is in progress" in out_b.stderr, out_b
    if codes != [0, 0]:
        assert codes[0] == 0, f"neither apply succeeded:\n{out_a}\n{out_b}"
        loser = out_b if out_b.code else out_a
        assert "another apply is in progress" in loser.stdout, loser
    winner = "5" if out_b.code == 0 else "4"
    assert_new(host, cli, key, {"maxauthtries": winner})


# --------------------------------------------------------------------------- 11: interrupted

_FAKE_CLOCK = """#!/bin/sh
# The host's clock for shell scripts, OFFSET seconds ahead (`date +%s` only).
off=$(cat /run/clock-offset 2>/dev/null || echo 0)
if [ "$1" = "+%s" ]; then echo $(( $(/usr/bin/date +%s) + off )); else exec /usr/bin/date "$@"; fi
"""


@contextlib.contextmanager
def _clock_ahead(host: TestHost, seconds: int) -> Iterator[None]:
    """Let the host's scripts believe `seconds` have passed (a stage lease runs 120 s)."""
    host.run(
        f"echo {seconds} > /run/clock-offset && cat > /usr/local/sbin/date"
        " && chmod 755 /usr/local/sbin/date",
        input=_FAKE_CLOCK,
        check=True,
    )
    try:
        yield
    finally:
        host.run("rm -f /usr/local/sbin/date /run/clock-offset", check=True)


def _cut_connections(port: int) -> None:
    """Drop every TCP connection the tool has open to the host (the host's side sees a reset)."""
    subprocess.run(
        ["ss", "-K", "-t", "dst", LOOPBACK, "dport", "=", f":{port}"],
        check=True,
        capture_output=True,
    )


STEPS = {
    "admin": "ensuring admin user ops",
    "staged": "validated with sshd -t",
    "reloaded": "reloaded sshd",
    "confirmed": "hardened and confirmed",
}


@pytest.mark.parametrize(
    ("step", "how"),
    [
        ("admin", "kill"),
        ("staged", "kill"),
        ("confirmed", "kill"),  # "reloaded"+kill is test_03
        ("staged", "cut"),
        ("reloaded", "cut"),
    ],
)
def test_11_apply_interrupted_at_each_step_the_next_apply_converges(
    fault_case: FaultCaseFactory, step: str, how: str
) -> None:
    host, key, cli = fault_case("bookworm")
    before = snapshot(host)
    run = cli.start("apply", confirm_timeout=10)
    run.wait_for(STEPS[step])
    cut: Outcome | None = None
    if how == "kill":
        run.kill()
    else:
        run.pause()  # hold it right at this step while its connection is cut
        _cut_connections(host.port)
        run.resume()
        cut = run.finish()
        if step == "reloaded":  # verification and confirmation use a fresh connection
            assert cut.code == 0, cut
        else:
            assert cut.code == 4, cut
            assert f"lost the connection to root@127.0.0.1:{host.port}" in cut.stdout, cut
            if step == "staged":
                # The pause lands just after "validated" is printed: before the commit is sent
                # (the tool reconnects, finds only its staged files and cleans up) or just after
                # (the host committed, its watcher rolls back; the tool waits that out).
                cleaned = "the lock were removed, nothing changed" in cut.stdout
                waited = "during the commit; the host rolled back by itself" in cut.stdout
                assert cleaned or waited, cut
                if cleaned:
                    assert "before the change reached sshd" in cut.stdout, cut
                assert old_or_new(host, before) == "old", cut
    # A kill right after "validated" may land before or during the commit: either is fine.
    expected = {"admin": {"old"}, "staged": {"old", "new"}, "reloaded": {"new"}}
    assert old_or_new(host, before) in expected.get(step, {"new"})
    held = not lock_gone(host)
    assert not (held and cut), f"the tool reconnected, yet left its own lock behind:\n{cut}"
    if held:
        # A staged transaction keeps its lease for 120 s; a committed one has a watcher. A
        # hasty apply is refused with the reason; after the lease the next one converges.
        busy = cli.run("apply", wait=2)
        assert busy.code == 4, busy
        assert f"another apply is in progress on the host (busy: another apply holds {LOCK}" in (
            busy.stdout
        ), busy
        with _clock_ahead(host, 300):
            converge(host, cli, key)
    else:
        converge(host, cli, key)
