"""Hostile accounts (issue 15, part 1): a local user cannot turn the admin step into root.

On a real test host a local user prepares traps in their own home (symlinks to /etc/shadow or
to root's .ssh) and is then named as the admin user. Whatever the outcome, the files the traps
point at must be exactly as they were: owner, mode and content, judged from the host itself.
An account the tool did not create is refused unless the operator adopts it, and the refusal
comes before anything on the host changed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.conftest import ClientKeys, HostFactory
from tests.helpers.fault_proofs import FaultCaseFactory, assert_old, cli_for, snapshot
from tests.testhosts.chroot import TestHost

pytestmark = pytest.mark.host

PROTECTED = ("/etc/shadow", "/root/.ssh/authorized_keys", "/etc/sudoers")


def _meta(host: TestHost, path: str) -> tuple[int, int, int, str]:
    """(uid, gid, mode, sha256) of a file inside the host, read without following links."""
    p = host.path(path)
    st = p.lstat()
    return st.st_uid, st.st_gid, st.st_mode, hashlib.sha256(p.read_bytes()).hexdigest()


def _protected(host: TestHost) -> dict[str, tuple[int, int, int, str]]:
    return {p: _meta(host, p) for p in PROTECTED}


def _local_user(host: TestHost, name: str, trap: str) -> None:
    """A local account made by someone else (not hardened-ecs), with a trap in its home."""
    host.add_user(name, authorized_keys=[], sudo_nopasswd=False)
    host.run(f"su -s /bin/sh {name} -c {trap!r}", check=True)


TRAPS = {
    "authorized_keys -> /etc/shadow": "rm -f ~/.ssh/authorized_keys && "
    "ln -s /etc/shadow ~/.ssh/authorized_keys",
    ".ssh -> /root/.ssh": "rm -rf ~/.ssh && ln -s /root/.ssh ~/.ssh",
    "no .ssh, home symlinked entries": "rm -rf ~/.ssh && mkdir ~/.ssh && "
    "ln -s /etc/sudoers ~/.ssh/.authorized_keys.hardened-ecs && "
    "ln -s /etc/shadow ~/.ssh/authorized_keys",
}


@pytest.mark.parametrize("trap", list(TRAPS), ids=list(TRAPS))
def test_an_existing_account_is_refused_before_anything_changes(
    fault_case: FaultCaseFactory, trap: str
) -> None:
    host, key, cli = fault_case("bookworm")
    _local_user(host, "alice", TRAPS[trap])
    before, protected = snapshot(host), _protected(host)
    out = cli.run("apply", "--admin-user", "alice")
    assert out.code == 2, out
    assert "admin user alice already exists" in out.stdout, out
    assert "--adopt-admin-user" in out.stdout and "nothing changed" in out.stdout, out
    assert _protected(host) == protected
    assert not host.path("etc/sudoers.d/90-hardened-ecs-alice").exists()
    assert_old(host, before, key)


@pytest.mark.parametrize("trap", list(TRAPS), ids=list(TRAPS))
def test_an_adopted_account_never_lets_the_admin_step_follow_its_links(
    fault_case: FaultCaseFactory, trap: str
) -> None:
    host, key, cli = fault_case("bookworm")
    _local_user(host, "alice", TRAPS[trap])
    before, protected = snapshot(host), _protected(host)
    out = cli.run("apply", "--admin-user", "alice", "--adopt-admin-user")
    assert out.code == 4, out
    assert "could not prepare admin user alice" in out.stdout, out
    assert "nothing changed" in out.stdout, out
    # The targets of the links are untouched: owner, mode and content.
    assert _protected(host) == protected
    assert not host.path("etc/sudoers.d/90-hardened-ecs-alice").exists()
    assert_old(host, before, key)


def test_an_adopted_account_with_a_clean_home_is_given_our_key_and_sudo(
    fault_case: FaultCaseFactory,
) -> None:
    host, _, cli = fault_case("bookworm")
    host.add_user("alice", authorized_keys=[], sudo_nopasswd=False)
    out = cli.run("apply", "--admin-user", "alice", "--adopt-admin-user")
    assert out.code == 0, out
    ak = host.path("home/alice/.ssh/authorized_keys")
    uid = int(host.run("id -u alice", check=True).stdout)
    assert ak.lstat().st_uid == uid and (ak.lstat().st_mode & 0o777) == 0o600
    assert host.path("etc/sudoers.d/90-hardened-ecs-alice").exists()
    # Converged: a second apply (root is closed now: as the admin) changes nothing.
    again = cli.run("apply", "--admin-user", "alice")
    assert again.code == 0 and "compliant, nothing to change" in again.stderr, again


@pytest.mark.parametrize("name", ["nobody", "daemon", "sshd", "www-data"])
def test_system_accounts_are_refused_before_connecting(
    name: str, client_keys: ClientKeys, tmp_path: Path
) -> None:
    from tests.helpers.cli import run_cli

    # Port 1 is never listened on here: a tool that tried to connect would say so (exit 3).
    argv = ["apply", "--host", "127.0.0.1", "--port", "1", "--user", "root", "--wait", "0"]
    key, known = str(client_keys.ed25519), str(tmp_path / "kh")
    out = run_cli([*argv, "--identity", key, "--known-hosts", known, "--admin-user", name])
    assert out.code == 2, out
    assert f"admin user {name!r} is not usable" in out.stderr, out
    assert "system or image account" in out.stderr, out


def test_an_account_with_a_system_uid_or_no_login_shell_is_refused_even_adopted(
    fault_case: FaultCaseFactory,
) -> None:
    host, key, cli = fault_case("bookworm")
    host.run(
        "useradd --system -s /bin/bash svc1 && useradd -m -s /usr/sbin/nologin svc2", check=True
    )
    before = snapshot(host)
    for name, why in (("svc1", "system account (uid"), ("svc2", "no login shell")):
        out = cli.run("apply", "--admin-user", name, "--adopt-admin-user")
        assert out.code == 2, out
        assert f"admin user {name}" in out.stdout and why in out.stdout, out
        assert "nothing changed" in out.stdout, out
        assert_old(host, before, key)
    assert not host.path("nonexistent").exists()


def test_the_admin_user_the_stacks_cloud_init_creates_is_the_tools_own(
    fault_case: FaultCaseFactory, host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    """The stack's user data creates ops and records it; the hardening step then needs no
    adopting. The record is made by the very command the user data carries."""
    import shlex

    import yaml

    from components.cloudinit import admin_user_data
    from hardening.change.rekey import new_host_key

    host, key, cli = fault_case("bookworm")
    boot = new_host_key()
    document = yaml.safe_load(
        admin_user_data("ops", client_keys.public(key), boot.private, boot.public)
    )
    # What cloud-init's users module does, then its runcmd.
    host.add_user("ops", authorized_keys=[key], sudo_nopasswd=True)
    for command in document["runcmd"]:
        host.run(shlex.join(command), check=True)
    out = cli.run("apply")
    assert out.code == 0, out
    # Without the record (a fresh host, same account), it is somebody else's.
    fresh = host_factory("bookworm")
    fresh.add_user("ops", authorized_keys=[key], sudo_nopasswd=True)
    refused = cli_for(fresh, key, tmp_path).run("apply")
    assert refused.code == 2 and "admin user ops already exists" in refused.stdout, refused
