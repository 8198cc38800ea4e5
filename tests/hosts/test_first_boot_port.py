"""A new server of a stack with another sshPort listens there from its first boot (issue 21).

Debian trixie with systemd and Debian's cloud-init (tests/testhosts/) boots from exactly the
user data the program renders for `sshPort: 2222` (components/cloudinit.py), in the three ways
sshd is started on the supported images: ssh.service (Debian, Ubuntu 22.04), ssh.socket
activation (Ubuntu 22.10+, where systemd holds the port and sshd's Port is not read), and an
sshd_config without Include (RHEL family). On each: the only port sshd (or its socket) ever
listens on is 2222, and the first contact there, pinned to the boot key, gets in as the admin
user. The user data passes the image's own `cloud-init schema`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.cloudinit import SOCKET_DROPIN, admin_user_data
from components.sshd_hardening.provider import SshdHardeningProvider
from hardening.change.rekey import new_host_key, openssh_fingerprint
from hardening.model.desired import Request
from hardening.model.errors import EXIT_CONNECT
from hardening.ops import engine
from hardening.ssh.keys import load_private_key
from hardening.ssh.transport import Target
from hardening.ssh.trust import HostKeyPolicy
from tests.conftest import ClientKeys
from tests.testhosts.fixtures import SystemdFactory
from tests.testhosts.machine import SystemdHost
from tests.testhosts.rootfs import Image, run_in_image

ADMIN = "ops"
PORT = 2222
IMAGE = Image("trixie", cloud_init=True)
BOOT_KEY = new_host_key()
VARIANTS: dict[str, dict[str, Any]] = {
    "ssh.service": {},
    "ssh.socket": {"socket_activated": True},
    "no-Include": {"include": False},
}


def _user_data(keys: ClientKeys) -> str:
    return admin_user_data(ADMIN, keys.public(keys.rsa), BOOT_KEY.private, BOOT_KEY.public, PORT)


def test_the_user_data_for_another_port_passes_cloud_init_s_own_schema(
    client_keys: ClientKeys,
) -> None:
    out = run_in_image(
        IMAGE,
        "cloud-init",
        "schema",
        "-c",
        "/tmp/user-data",
        files={"user-data": _user_data(client_keys)},
    )
    assert out.returncode == 0 and "Valid schema" in out.stdout, out.stdout


def _listening(host: SystemdHost) -> set[int]:
    """The TCP ports something listens on inside the host (its own namespace)."""
    out = host.run("ss -Htln", check=True).stdout
    return {int(line.split()[3].rsplit(":", 1)[1]) for line in out.splitlines() if line.split()}


def _first_contact(host: SystemdHost, key: Path, port: int) -> engine.Report:
    """What the hardening's create does first: in as the admin user, pinned to the boot key."""
    target = Target(
        host.address,
        port,
        ADMIN,
        load_private_key(path=str(key)),
        HostKeyPolicy(pinned_fingerprint=openssh_fingerprint(BOOT_KEY.public)),
    )
    return engine.check(target, Request(admin_user=ADMIN), engine.Options(wait=10))


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_new_server_listens_on_its_port_from_the_first_boot(
    systemd_factory: SystemdFactory, client_keys: ClientKeys, variant: str
) -> None:
    host = systemd_factory(IMAGE, user_data=_user_data(client_keys), **VARIANTS[variant])
    status = host.run("cloud-init status --long").stdout
    assert "status: done" in status and "errors: []" in status, status
    assert _listening(host) == {PORT}, host.run("ss -tlnp").stdout
    effective = host.run("sshd -T", check=True).stdout.splitlines()
    assert [line for line in effective if line.startswith("port ")] == [f"port {PORT}"]
    # Never on 22, not for a moment: systemd's own record of what the socket listened on.
    if variant == "ssh.socket":
        listen = host.run("systemctl show ssh.socket -p Listen --value", check=True).stdout
        assert listen.split() == [f"[::]:{PORT}", "(Stream)"]  # both families, as Debian's 22
        assert host.run(f"test -f {SOCKET_DROPIN}").returncode == 0
        starts = _socket_starts(host)
        assert starts == 1, starts  # started once, after the drop-in: never re-bound
    first = _first_contact(host, client_keys.rsa, PORT)
    assert first.exit_code != EXIT_CONNECT and first.openssh, first.error
    assert first.host_key_fingerprint == openssh_fingerprint(BOOT_KEY.public)
    closed = _first_contact(host, client_keys.rsa, 22)
    assert closed.exit_code == EXIT_CONNECT, closed
    # A reboot keeps the port (bootcmd's socket step ran once; the drop-ins stay).
    host.reboot()
    assert _listening(host) == {PORT}, host.run("ss -tlnp").stdout


def _socket_starts(host: SystemdHost) -> int:
    out = host.run(
        "journalctl -b _PID=1 -o json --output-fields=UNIT,JOB_TYPE,JOB_RESULT", check=True
    ).stdout
    events = [json.loads(line) for line in out.splitlines()]
    return sum(
        1
        for e in events
        if e.get("UNIT") == "ssh.socket" and e.get("JOB_TYPE") == "start" and e.get("JOB_RESULT")
    )


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_first_hardening_of_a_server_booted_on_its_port_keeps_it_there(
    systemd_factory: SystemdFactory, client_keys: ClientKeys, variant: str
) -> None:
    """What `pulumi up` does next with that server: the SshdHardening's create, as __main__.py's
    inputs make it (bootstrap as the admin user pinned to the boot key, Port=2222, a fresh
    host key), then a move to 2200 and back to 22 as the stack's port changes. Needs the
    engine's move (branch i21-engine)."""
    host = systemd_factory(IMAGE, user_data=_user_data(client_keys), **VARIANTS[variant])
    provider = SshdHardeningProvider()
    props = {
        "host": host.address,
        "port": PORT,
        "bootstrapUser": ADMIN,
        "adminUser": ADMIN,
        "privateKey": client_keys.rsa.read_text(),
        "profile": "baseline",
        "overrides": {},
        "expectedHostKeyFingerprint": openssh_fingerprint(BOOT_KEY.public),
        "wait": 120,
        "adoptAdminUser": False,
        "rotateHostKey": True,
        "managePort": True,
    }
    created = provider.create(props)
    state = dict(created.outs or {})
    assert state["compliant"] is True and _listening(host) == {PORT}
    for port in (2200, 22):
        moved = provider.update(created.id, state, {**props, "port": port})
        state = dict(moved.outs or {})
        assert state["port"] == port and state["compliant"] is True
        assert _listening(host) == {port}, host.run("ss -tlnp").stdout
    # Back on 22, a later update (another profile) keeps it there: the boot drop-in's
    # `Port 2222`, set aside by the move, stays aside.
    again = provider.update(created.id, state, {**props, "port": 22, "profile": "minimal"})
    assert (again.outs or {})["port"] == 22
    assert _listening(host) == {22}, host.run("ss -tlnp").stdout
