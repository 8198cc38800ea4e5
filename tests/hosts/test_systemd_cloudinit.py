"""cloud-init first boot for real (issue 11): Debian's cloud-init on a systemd host, a NoCloud
seed carrying exactly the user data the Pulumi program produces (components/cloudinit.py),
and the key pair's key in the meta-data, as a cloud passes them.

The tests read what cloud-init did on the host (admin user, sudo rule, its sshd drop-in, host
keys) and prove that the hardening wins over it — also when the apply starts while cloud-init
is still running its config stage (the one that writes its sshd drop-in and restarts sshd).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from components.cloudinit import admin_user_data
from hardening.change.rekey import new_host_key
from tests.conftest import ClientKeys
from tests.helpers.systemd_observe import (
    ADMIN,
    DROPIN,
    assert_healthy,
    assert_new,
    cli_for,
    login_later,
)
from tests.testhosts.client import try_login, wait_login
from tests.testhosts.fixtures import SystemdFactory
from tests.testhosts.machine import SystemdHost
from tests.testhosts.rootfs import Image, run_in_image

CLOUD_DROPIN = "/etc/ssh/sshd_config.d/50-cloud-init.conf"
SUDO_RULE = "/etc/sudoers.d/90-cloud-init-users"
IMAGE = Image("trixie", cloud_init=True)
BOOT_KEY = new_host_key()


def _schema(user_data: str) -> tuple[bool, str]:
    """cloud-init's own verdict on a user data document, by the image's cloud-init."""
    out = run_in_image(
        IMAGE, "cloud-init", "schema", "-c", "/tmp/user-data", files={"user-data": user_data}
    )
    return out.returncode == 0, out.stdout


def test_the_user_data_passes_cloud_init_s_own_schema(client_keys: ClientKeys) -> None:
    # The program's real document; a schema error makes every first boot log "cloud-config
    # failed schema validation" (issue 21).
    public = client_keys.public(client_keys.rsa)
    user_data = admin_user_data(ADMIN, public, BOOT_KEY.private, BOOT_KEY.public)
    valid, said = _schema(user_data)
    assert valid and "Valid schema" in said, said
    # The validator is the real one: the old empty key type list is refused, by name.
    document = yaml.safe_load(user_data)
    document["ssh_genkeytypes"] = []
    valid, said = _schema("#cloud-config\n" + yaml.safe_dump(document))
    assert not valid and "ssh_genkeytypes: [] is too short" in said, said


def _first_boot(factory: SystemdFactory, keys: ClientKeys, **options: Any) -> SystemdHost:
    # Alibaba's ImportKeyPair takes RSA and ECDSA: the key pair is the RSA one.
    public = keys.public(keys.rsa)
    user_data = admin_user_data(ADMIN, public, BOOT_KEY.private, BOOT_KEY.public)
    return factory(IMAGE, user_data=user_data, **options)


def _what_cloud_init_did(host: SystemdHost, keys: ClientKeys) -> None:
    status = host.run("cloud-init status --long").stdout
    assert "status: done" in status and "errors: []" in status, status
    assert "DataSourceNoCloud" in status, status
    # The admin user from the user data, with its key and its sudo rule.
    assert host.run(f"id -u {ADMIN}").returncode == 0
    authorized = host.run(f"cat /home/{ADMIN}/.ssh/authorized_keys").stdout
    assert keys.public(keys.rsa) in authorized
    assert f"{ADMIN} ALL=(ALL) NOPASSWD:ALL" in host.run(f"cat {SUDO_RULE}").stdout
    # ssh_pwauth: false -> cloud-init's own sshd drop-in.
    assert host.run(f"cat {CLOUD_DROPIN}").stdout.strip() == "PasswordAuthentication no"
    # Host keys: none in the image; cloud-init installed the boot key of the user data only.
    made = host.run("ls /etc/ssh/ssh_host_*_key").stdout.split()
    assert [Path(p).name for p in made] == ["ssh_host_ed25519_key"], made
    installed = host.run("cat /etc/ssh/ssh_host_ed25519_key.pub").stdout.split()[:2]
    assert installed == BOOT_KEY.public.split()[:2]


def _hardening_wins(
    host: SystemdHost, keys: ClientKeys, tmp_path: Path, *, later: bool = False
) -> None:
    key = keys.rsa
    # Root is closed from the first boot: the admin user is the way in from the start.
    out = cli_for(host, key, tmp_path, user=ADMIN).run("apply", wait=120, confirm_timeout=60)
    assert out.code == 0, out
    # cloud-init is finished, its drop-in still there, ours read first and in force.
    assert "status: done" in host.run("cloud-init status").stdout
    assert host.run(f"test -f {CLOUD_DROPIN} && test -f {DROPIN}").returncode == 0
    assert_new(host, key)
    assert not try_login(host.address, "root", key), "root can still log in"
    assert_healthy(host)
    again = cli_for(host, key, tmp_path, user=ADMIN).run("check")
    assert again.code == 0, again
    if later:
        login_later(host, ADMIN, key)


def test_cloud_init_first_boot_then_hardening_wins(
    systemd_factory: SystemdFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = _first_boot(systemd_factory, client_keys)
    _what_cloud_init_did(host, client_keys)
    _hardening_wins(host, client_keys, tmp_path)


def test_apply_while_cloud_init_is_still_running_waits_and_wins(
    systemd_factory: SystemdFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = _first_boot(systemd_factory, client_keys, wait=False, cloud_init_delay=15)
    wait_login(host.address, ADMIN, client_keys.rsa, limit=60)
    status = host.run("cloud-init status").stdout
    assert "status: running" in status, status
    assert host.run(f"test -e {CLOUD_DROPIN}").returncode != 0, "config stage already ran"
    _hardening_wins(host, client_keys, tmp_path, later=True)
    _what_cloud_init_did(host, client_keys)
