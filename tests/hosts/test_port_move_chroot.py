"""Moving sshd's port on chroot hosts (issue 21): its port is in a drop-in (10-testhost.conf),
so every move sets that Port line aside too. Ports are free loopback ports (never a fixed one):
A -> B -> C -> A, then the tool killed right after the reload of a move: the host rolls back
(or is confirmed), never neither, and the next apply converges."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.cli import Cli, describe
from tests.helpers.fault_proofs import FaultCaseFactory, effective, lock_gone, poll
from tests.testhosts.chroot import TestHost, try_login
from tests.testhosts.loopback import PORT_LOCK, PORTS_IN_USE, allocate_port, listen_inodes

ADMIN = "ops"
DROPIN = "/etc/ssh/sshd_config.d/10-testhost.conf"


@pytest.fixture
def ports() -> Iterator[list[int]]:
    """Two more free loopback ports, handed back when the test ends."""
    taken = [allocate_port(), allocate_port()]
    yield taken
    with PORT_LOCK:
        PORTS_IN_USE.difference_update(taken)


def _cli(cli: Cli, port: int, user: str = ADMIN) -> Cli:
    return Cli(port, cli.identity, cli.known_hosts, user, host=cli.host)


def assert_on(host: TestHost, key: Path, port: int, old: int) -> None:
    """A fresh login on `port`, nothing on `old`, one port in sshd -T, the listener's sockets."""
    assert try_login(port, ADMIN, key), f"{ADMIN} cannot log in on {port}"
    assert listen_inodes(old) == set(), f"something still listens on {old}"
    assert effective(host)["port"] == str(port)
    assert listen_inodes(port) and host.run("ls -A /var/lib/hardened-ecs/lock").returncode != 0
    pid = host.listener_pid()
    held = host.run(f"ls -l /proc/{pid}/fd", check=True).stdout
    assert all(f"socket:[{i}]" in held for i in listen_inodes(port)), "not sshd's sockets"


def test_port_moves_on_a_chroot_host_and_back(
    fault_case: FaultCaseFactory, ports: list[int]
) -> None:
    host, key, cli = fault_case("bookworm")
    a, (b, c) = host.port, ports
    for user, frm, to in (("root", a, b), (ADMIN, b, c), (ADMIN, c, a)):
        out = _cli(cli, frm, user).run("apply", "--json", "--set", f"Port={to}", wait=30)
        assert out.code == 0, describe(out)
        assert json.loads(out.stdout)["port"] == to, describe(out)
        assert_on(host, key, to, frm)
        text = host.run(f"cat {DROPIN}", check=True).stdout
        assert f"#hardened-ecs-moved-port# Port {a}\n" in text, text
        again = _cli(cli, to).run("apply", "--set", f"Port={to}", wait=30)
        assert again.code == 0 and "nothing to change" in again.stderr, describe(again)
    # The same command as a move, run again once it is done: nothing answers on the old
    # port, so it finds sshd on the new one and has nothing to change.
    must_move = _cli(cli, a).run("apply", "--set", f"Port={b}", wait=30)
    assert must_move.code == 0, describe(must_move)
    same = _cli(cli, a).run("apply", "--json", "--set", f"Port={b}", wait=30)
    assert same.code == 0, describe(same)
    report = json.loads(same.stdout)
    assert report["port"] == b and not report["changed"], describe(same)
    assert f"nothing answered on port {a}: sshd already listens on {b}" in report["notes"]
    # Port no longer managed: the host's own Port line comes back, sshd stays where it was.
    out = _cli(cli, b).run("apply", wait=30)
    assert out.code == 0, describe(out)
    assert f"\nPort {a}\n" in "\n" + host.run(f"cat {DROPIN}", check=True).stdout
    poll("sshd back on its own port", lambda: bool(listen_inodes(a)), timeout=10)
    assert_on(host, key, a, b)


def test_killed_right_after_the_reload_of_a_move_the_host_rolls_back_and_the_next_converges(
    fault_case: FaultCaseFactory, ports: list[int]
) -> None:
    host, key, cli = fault_case("bookworm")
    a, b = host.port, ports[0]
    run = cli.start("apply", "--set", f"Port={b}", wait=30, confirm_timeout=10)
    run.wait_for("reloaded sshd")
    run.kill()
    assert not lock_gone(host), "the apply confirmed before it was killed"
    # Killed before any confirm: the host's own watcher puts the old port back.
    poll("the host's own rollback", lambda: lock_gone(host), timeout=10 + 30)
    poll("sshd back on the old port", lambda: bool(listen_inodes(a)), timeout=10)
    assert listen_inodes(b) == set()
    assert effective(host)["port"] == str(a)
    assert try_login(a, "root", key)
    out = cli.run("apply", "--set", f"Port={b}", wait=30)
    assert out.code == 0, describe(out)
    assert_on(host, key, b, a)
