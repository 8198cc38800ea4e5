"""Engine behaviour on real hosts that the CLI proofs do not cover: cloud-init settling and a
non-root login (Alibaba's `login_as_non_root` images log in as ecs-user with sudo)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hardening.model.desired import Request
from hardening.ops import engine
from hardening.ssh.transport import Target
from tests.conftest import ClientKeys, HostFactory
from tests.helpers.chroot_observe import loopback_target
from tests.testhosts.chroot import TestHost, try_login

LOCK = "/var/lib/hardened-ecs/lock"

# A stand-in cloud-init: `status --wait` blocks until the "boot" finished, then records that it
# was asked; the boot writes a late drop-in like the real one does.
FAKE_CLOUD_INIT = """#!/bin/sh
echo "$*" >> /root/cloud-init-calls
if [ "$1 $2" = "status --wait" ]; then
  sleep 1
  printf 'PasswordAuthentication yes\\n' > /etc/ssh/sshd_config.d/60-late-cloud-init.conf
fi
"""


def _target(host: TestHost, user: str, key: Path, tmp_path: Path) -> Target:
    return loopback_target(host.port, user, key, tmp_path)


def test_apply_waits_for_cloud_init_and_check_does_not(
    host_factory: HostFactory, client_key: Path, tmp_path: Path
) -> None:
    host = host_factory()
    host.run(f"cat > /usr/local/bin/cloud-init <<'EOF'\n{FAKE_CLOUD_INIT}EOF\n", check=True)
    host.run("chmod 755 /usr/local/bin/cloud-init", check=True)
    target = _target(host, "root", client_key, tmp_path)

    checked = engine.check(target, Request())
    assert checked.exit_code == 1
    assert not host.path("/root/cloud-init-calls").exists()

    report = engine.apply(target, Request(), engine.Options(wait=30))
    assert report.exit_code == 0, report.error
    assert host.path("/root/cloud-init-calls").read_text() == "status --wait\n"
    # The late drop-in existed before our facts were read, and our values still win.
    assert host.path("/etc/ssh/sshd_config.d/60-late-cloud-init.conf").exists()
    assert host.sshd_effective()["passwordauthentication"] == "no"


def test_a_cloud_init_done_this_boot_is_not_asked_again(
    host_factory: HostFactory, client_key: Path, tmp_path: Path
) -> None:
    """cloud-init's last stage leaves /run/cloud-init/result.json (its first stage of a boot
    removes it): apply then has nothing to wait for, and no `cloud-init status` to pay for."""
    host = host_factory()
    host.run(f"cat > /usr/local/bin/cloud-init <<'EOF'\n{FAKE_CLOUD_INIT}EOF\n", check=True)
    host.run("chmod 755 /usr/local/bin/cloud-init", check=True)
    host.run("mkdir -p /run/cloud-init && echo '{}' > /run/cloud-init/result.json", check=True)

    report = engine.apply(_target(host, "root", client_key, tmp_path), Request())

    assert report.exit_code == 0, report.error
    assert not host.path("/root/cloud-init-calls").exists()


def test_non_root_login_applies_through_sudo(
    host_factory: HostFactory, client_key: Path, tmp_path: Path
) -> None:
    host = host_factory()
    host.add_user("ecs-user", authorized_keys=[client_key], sudo_nopasswd=True)
    target = _target(host, "ecs-user", client_key, tmp_path)

    report = engine.apply(target, Request(admin_user="ops"), engine.Options(wait=20))

    assert report.exit_code == 0, report.error
    assert report.changed and report.compliant and report.user == "ecs-user"
    assert not try_login(host.port, "root", client_key)
    assert try_login(host.port, "ecs-user", client_key)
    # Connected as a sudo user, nobody is locked out by closing root: no admin user is made.
    assert host.run("id ops").returncode != 0


@pytest.mark.parametrize("profile", ["minimal"])
def test_second_apply_of_another_profile_rewrites_only_our_file(
    host_factory: HostFactory, client_key: Path, tmp_path: Path, profile: str
) -> None:
    host = host_factory()
    target = _target(host, "root", client_key, tmp_path)
    assert engine.apply(target, Request(), engine.Options(wait=20)).exit_code == 0
    before = host.path("/etc/ssh/sshd_config.d/00-hardened-ecs.conf").read_text()

    report = engine.apply(target, Request(profile=profile), engine.Options(wait=20))

    assert report.exit_code == 0 and report.changed, report.error
    after = host.path("/etc/ssh/sshd_config.d/00-hardened-ecs.conf").read_text()
    assert "Ciphers" in before and "Ciphers" not in after
    assert set(report.settings) == {
        "PermitRootLogin",
        "PasswordAuthentication",
        "KbdInteractiveAuthentication",
        "PubkeyAuthentication",
    }


def test_a_pending_transaction_is_not_called_compliant_and_apply_waits_for_it(
    host_factory: HostFactory, client_key: Path, tmp_path: Path
) -> None:
    """A tool killed after the reload leaves the new config live with its rollback pending:
    check must not call that compliant, and the next apply waits for the outcome."""
    host = host_factory()
    kh = tmp_path / "known_hosts"
    base = [
        sys.executable, "-m", "hardening", "apply", "--host", "127.0.0.1",
        "--port", str(host.port), "--identity", str(client_key), "--known-hosts", str(kh),
        "--user", "root", "--accept-new-host-key", "--confirm-timeout", "12",
    ]  # fmt: skip
    tool = subprocess.Popen(base, stderr=subprocess.PIPE, text=True)
    assert tool.stderr is not None
    for line in tool.stderr:
        if "reloaded sshd" in line:
            tool.kill()
            break
    tool.wait()
    assert host.path(LOCK).is_dir()  # the watcher holds the lock, rollback pending
    target = _target(host, "root", client_key, tmp_path)

    pending = engine.check(target, Request(), engine.Options(wait=10))
    assert pending.exit_code == 1, pending.as_dict()
    assert any("a change is in progress" in note for note in pending.notes)

    # The watcher restores the old files after 12 s; apply waits for that, reads the host
    # again under its own lock, and hardens it for real.
    report = engine.apply(target, Request(), engine.Options(wait=60))
    assert report.exit_code == 0 and report.changed and report.compliant, report.as_dict()
    assert not host.path(LOCK).exists()
    assert engine.check(target, Request(), engine.Options(wait=10)).exit_code == 0


def test_failed_admin_setup_keeps_the_admin_users_own_key(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    """ops exists with its own key (no newline at the end) but cannot log in: the verifying
    login as ops fails, the host rolls back, and the undo must take back only our line."""
    host = host_factory(authorized_keys=[client_keys.ed25519])
    own = client_keys.stranger.with_suffix(".pub").read_text().strip()
    host.add_user("ops", authorized_keys=[], sudo_nopasswd=True)
    host.run(f"printf '%s' '{own}' > /home/ops/.ssh/authorized_keys", check=True)
    # A login shell that runs nothing: the proof login fails (sudo never answers).
    host.run(
        "printf '#!/bin/sh\\nexit 1\\n' > /usr/local/bin/noshell"
        " && chmod 755 /usr/local/bin/noshell && echo /usr/local/bin/noshell >> /etc/shells"
        " && usermod -s /usr/local/bin/noshell ops",
        check=True,
    )
    target = _target(host, "root", client_keys.ed25519, tmp_path)
    sshd_files = "grep -r . /etc/ssh/sshd_config /etc/ssh/sshd_config.d/ || true"
    config_before = host.run(sshd_files, check=True).stdout

    # ops is the operator's own account (not made by hardened-ecs): adopted explicitly.
    request = Request(adopt_admin=True)
    report = engine.apply(target, request, engine.Options(wait=10, verify_wait=5))

    assert report.exit_code == 4 and not report.changed and report.rolled_back, report.as_dict()
    error = report.error or ""
    assert "fresh-connection check as ops" in error and "rolled back to the previous" in error
    assert host.path("/home/ops/.ssh/authorized_keys").read_text().strip() == own
    assert not host.path(LOCK).exists()  # the failed setup released the host lock
    assert host.run(sshd_files, check=True).stdout == config_before
    assert try_login(host.port, "root", client_keys.ed25519)  # root keeps its access
