"""sshd's files edited without a reload: apply refuses before changing anything (issue 21 item
5), so that no rollback can make live a configuration that never ran.

Chroot host: the Port of its drop-in changed (a free loopback port: even a wrong reload stays on
127.0.0.1). systemd host (its own network namespace): the Include dropped from sshd_config and
a Port added there, the slip seen in the wild.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ClientKeys
from tests.helpers import systemd_observe
from tests.helpers.fault_proofs import FaultCaseFactory, assert_old, converge, snapshot
from tests.testhosts.fixtures import SystemdFactory
from tests.testhosts.loopback import allocate_port, listen_inodes

PORT_DROPIN = "/etc/ssh/sshd_config.d/10-testhost.conf"


def test_a_port_edited_without_a_reload_is_refused_and_the_host_left_as_it_runs(
    fault_case: FaultCaseFactory,
) -> None:
    host, key, cli = fault_case("bookworm")
    other = allocate_port()
    edit = f"sed -i 's/^Port {host.port}$/Port {other}/' {PORT_DROPIN}"
    host.run(edit, check=True)
    assert f"Port {other}" in host.run(f"cat {PORT_DROPIN}").stdout
    before, sockets = snapshot(host), host.listen_sockets()

    out = cli.run("apply")
    assert out.code == 4, out
    said = out.stdout
    assert "sshd's files hold an edit the running sshd has not loaded" in said, out
    assert f"it listens on 127.0.0.1:{host.port}, its files say 127.0.0.1:{other}" in said, out
    assert "Reload sshd yourself" in said and "or revert the edit" in said, out
    assert "nothing changed" in said, out
    # Files, sshd -T, no leftovers, root's login on the old port: as before. The listener
    # itself was not reloaded (a re-exec makes new sockets) and nothing listens on the edit.
    assert_old(host, before, key)
    assert host.listen_sockets() == sockets
    assert listen_inodes(other) == set()

    # Reverted, the same apply goes through.
    host.run(f"sed -i 's/^Port {other}$/Port {host.port}/' {PORT_DROPIN}", check=True)
    converge(host, cli, key)


def test_an_include_lost_without_a_reload_is_refused_on_a_systemd_host(
    systemd_factory: SystemdFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = systemd_factory("trixie")
    key = client_keys.ed25519
    host.run(
        "sed -i '/^Include /d' /etc/ssh/sshd_config && echo 'Port 2200' >> /etc/ssh/sshd_config",
        check=True,
    )
    before = systemd_observe.snapshot(host)
    pid = systemd_observe.main_pid(host)
    cli = systemd_observe.cli_for(host, key, tmp_path)

    out = cli.run("apply")
    assert out.code == 4, out
    assert "sshd's files hold an edit the running sshd has not loaded" in out.stdout, out
    assert "its files say 0.0.0.0:2200, [::]:2200" in out.stdout, out
    assert "systemctl reload ssh" in out.stdout, out
    systemd_observe.assert_old(host, before, key)
    assert systemd_observe.main_pid(host) == pid
    listening = host.run("ss -Hltn").stdout
    assert ":22 " in listening and ":2200 " not in listening, listening
    systemd_observe.assert_healthy(host)
