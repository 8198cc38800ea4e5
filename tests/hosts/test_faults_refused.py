"""Faults 1 and 2: what the host's OpenSSH cannot take is refused before any change (issue 5).

See tests/helpers/fault_proofs.py for what is proven after each fault.
"""

from __future__ import annotations

from tests.helpers.fault_proofs import (
    BAD_KEX,
    FaultCaseFactory,
    assert_no_admin_left,
    assert_old,
    converge,
    snapshot,
)

# --------------------------------------------------------------------------- 1, 2: refused


def test_01_directive_the_hosts_openssh_does_not_know_is_refused_before_any_change(
    fault_case: FaultCaseFactory,
) -> None:
    host, key, cli = fault_case("bullseye")  # OpenSSH 8.4
    before = snapshot(host)
    for flag, phrase in (
        ("RequiredRSASize=3072", "added in OpenSSH 9.1"),
        ("UseLogin=no", "removed in OpenSSH 7.4"),
    ):
        out = cli.run("apply", "--set", flag)
        assert out.code == 2, out
        name = flag.split("=")[0]
        assert f"{name}: not supported by the host's OpenSSH 8.4" in out.stdout, out
        assert phrase in out.stdout and "remove this override" in out.stdout, out
        assert "nothing changed" in out.stdout, out
        assert_old(host, before, key)
    converge(host, cli, key)


def test_01_algorithm_sshd_t_rejects_is_caught_before_anything_live_changes(
    fault_case: FaultCaseFactory,
) -> None:
    host, key, cli = fault_case("bookworm")
    before = snapshot(host)
    # One algorithm our client speaks (so it passes our own checks), one no OpenSSH knows.
    out = cli.run("apply", "--set", BAD_KEX)
    assert out.code == 4, out
    assert "sshd -t rejected the new configuration, nothing changed" in out.stdout, out
    assert "no-such-kex@example.com" in out.stdout, out
    assert "reloaded" not in out.stderr, out
    assert_old(host, before, key, admin_too=False)
    admin_left = snapshot(host).admin - before.admin
    converge(host, cli, key)
    assert_no_admin_left(admin_left)


def test_02_broken_drop_in_on_the_host_fails_with_its_name_and_nothing_changes(
    fault_case: FaultCaseFactory,
) -> None:
    host, key, cli = fault_case("bookworm")
    broken = "/etc/ssh/sshd_config.d/60-broken.conf"
    # The running sshd keeps serving its loaded configuration; only `sshd -t`/-T see the file.
    host.run(f"echo 'ThisIsNotAnOption yes' > {broken}", check=True)
    before = snapshot(host)
    for action in ("apply", "plan", "check"):
        out = cli.run(action)
        assert out.code == 4, out
        assert "already invalid, nothing changed" in out.stdout, out
        assert broken in out.stdout and "ThisIsNotAnOption" in out.stdout, out
        assert_old(host, before, key)
    host.run(f"rm {broken}", check=True)
    converge(host, cli, key)
