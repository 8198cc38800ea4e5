"""Faults 6, 7 and 8: no way in (sudo wants a password, wrong keys, nothing or a stalled server
listening): a clear exit, nothing changed (issue 5).

See tests/helpers/fault_proofs.py for what is proven after each fault.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ClientKeys, HostFactory
from tests.helpers.cli import Cli
from tests.helpers.fault_proofs import (
    ADMIN,
    BAD_KEX,
    assert_new,
    assert_old,
    cli_for,
    converge,
    snapshot,
    stalled_server,
)
from tests.testhosts.chroot import TestHost, allocate_port

# --------------------------------------------------------------------------- 6, 7, 8: no entry


def test_06_login_whose_sudo_wants_a_password_exits_clearly_and_changes_nothing(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = host_factory("bookworm")
    key = client_keys.ed25519
    host.add_user("deploy", authorized_keys=[key], sudo_nopasswd=False, password="Deploy-pw-1")
    host.run("usermod -aG sudo deploy", check=True)  # Debian: %sudo ALL=(ALL:ALL) ALL
    before = snapshot(host)
    cli = cli_for(host, key, tmp_path, user="deploy")
    for action in ("apply", "check"):
        out = cli.run(action)
        assert out.code == 3, out
        assert "deploy on 127.0.0.1 cannot run commands as root without a password" in out.stdout
        assert "NOPASSWD" in out.stdout, out
        assert_old(host, before, key)
    converge(host, cli_for(host, key, tmp_path), key)


def test_sudo_warning_does_not_turn_failures_into_password_errors(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = host_factory("bookworm")
    key = client_keys.ed25519
    converge(host, cli_for(host, key, tmp_path), key)  # root is closed: from now on via sudo
    # Like many cloud images: the host name missing from /etc/hosts, so sudo warns every time.
    host.run("echo '127.0.0.1 localhost' > /etc/hosts", check=True)
    log_from = len(host.syslog())
    before = snapshot(host)
    ops = cli_for(host, key, tmp_path, user=ADMIN)
    out = ops.run("apply", "--set", BAD_KEX)
    assert "unable to resolve host" in host.syslog()[log_from:]  # sudo did warn
    assert_old(host, before, key, login=ADMIN)
    assert out.code == 4, out
    assert "sshd -t rejected the new configuration, nothing changed" in out.stdout, out


def _no_session_since(host: TestHost, log_from: int) -> None:
    log = host.syslog()[log_from:]
    for phrase in ("Accepted publickey", "session opened", "Starting session"):
        assert phrase not in log, log


def _verbose_sshd(host: TestHost) -> None:
    """LogLevel VERBOSE on the host, so every public key offered shows in its syslog."""
    host.run("echo 'LogLevel VERBOSE' > /etc/ssh/sshd_config.d/05-verbose.conf", check=True)
    host.reload()


def test_07_wrong_key_exits_3_and_nothing_is_sent(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = host_factory("bookworm")
    _verbose_sshd(host)
    before, log_from = snapshot(host), len(host.syslog())
    cli = cli_for(host, client_keys.stranger, tmp_path)
    out = cli.run("apply", wait=2)
    assert out.code == 3, out
    assert f"cannot reach root@127.0.0.1:{host.port} within 2s (--wait)" in out.stdout, out
    assert "the server refused the key for root and for ops" in out.stdout, out
    assert "Failed publickey for root" in host.syslog()[log_from:]
    _no_session_since(host, log_from)
    assert_old(host, before, client_keys.ed25519)
    converge(host, cli_for(host, client_keys.ed25519, tmp_path), client_keys.ed25519)


def test_07_unknown_host_key_exits_3_before_authenticating(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = host_factory("bookworm")
    _verbose_sshd(host)
    key = client_keys.ed25519
    before, log_from = snapshot(host), len(host.syslog())
    cli = cli_for(host, key, tmp_path)
    fp = host.run("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub").stdout.split()[1]
    out = cli.run("apply", accept_new=False)
    assert out.code == 3, out
    assert f"host key for [127.0.0.1]:{host.port} is unknown (ssh-ed25519 {fp})" in out.stdout
    assert f"--host-key-fingerprint {fp} or --accept-new-host-key" in out.stdout, out
    assert not cli.known_hosts.exists(), "an unknown host key must not be recorded"
    log = host.syslog()[log_from:]
    assert "publickey" not in log, log  # the host key is checked before any key is offered
    _no_session_since(host, log_from)
    assert_old(host, before, key)
    # The fingerprint it printed is the one to pin.
    pinned = cli.run("apply", "--host-key-fingerprint", fp, accept_new=False)
    assert pinned.code == 0, pinned
    assert_new(host, Cli(host.port, key, tmp_path / "kh-pinned"), key)


def test_07_changed_host_key_a_different_server_on_the_same_port_exits_3(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    key = client_keys.ed25519
    first = host_factory("bookworm")
    port = first.port
    cli = cli_for(first, key, tmp_path)
    recorded = cli.run("plan")  # read-only; records the first server's key
    assert recorded.code == 0, recorded
    known = cli.known_hosts.read_text()
    first_fp = first.run("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub").stdout.split()[1]
    first.stop()
    # "Rebuilt": another server (fresh host keys) answers on the same address and port.
    second = host_factory("bookworm", port=port)
    _verbose_sshd(second)
    before, log_from = snapshot(second), len(second.syslog())
    for flags, phrases in (
        ((), (f"HOST KEY CHANGED for [127.0.0.1]:{port}", f"ssh-keygen -R '[127.0.0.1]:{port}'")),
        (("--host-key-fingerprint", first_fp), (f"but {first_fp} was pinned", "rebuilt")),
    ):
        out = cli.run("apply", *flags, accept_new=not flags)  # --accept-new never overrides
        assert out.code == 3, out
        for phrase in phrases:
            assert phrase in out.stdout, out
        log = second.syslog()[log_from:]
        assert "publickey" not in log, log
        _no_session_since(second, log_from)
    assert cli.known_hosts.read_text() == known, "known_hosts must not change"
    assert_old(second, before, key)
    cli.known_hosts.unlink()  # the operator verified the new server and forgot the old key
    converge(second, cli, key)


def test_08_nothing_listening_fails_after_wait_naming_host_and_port(
    client_keys: ClientKeys, tmp_path: Path
) -> None:
    free = allocate_port()
    cli = Cli(free, client_keys.ed25519, tmp_path / "kh")
    for action in ("apply", "check"):
        out = cli.run(action, wait=2)
        assert out.code == 3, out
        assert f"cannot reach root@127.0.0.1:{free} within 2s (--wait)" in out.stdout, out
        assert "TCP connect failed: Connection refused" in out.stdout, out
        assert f"127.0.0.1:{free}: TCP connect failed" in out.stderr, out  # retried meanwhile
    assert not cli.known_hosts.exists()


def test_08_server_that_stalls_after_its_banner_fails_after_wait_naming_host_and_port(
    client_keys: ClientKeys, tmp_path: Path
) -> None:
    with stalled_server() as port:
        out = Cli(port, client_keys.ed25519, tmp_path / "kh").run("apply", wait=1)
    assert out.code == 3, out
    assert f"cannot reach root@127.0.0.1:{port} within 1s (--wait)" in out.stdout, out
    assert "internal error" not in out.stdout, out
