"""The test-host infrastructure itself: real sshd per Debian suite, logins, isolation, cleanup."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ClientKeys, HostFactory
from tests.testhosts.chroot import (
    EXPECTED_OPENSSH,
    LOOPBACK,
    CopyMode,
    SSHClientError,
    TestHost,
    TestHostError,
    audit_failures,
    auth_methods,
    reap_stale,
    server_host_key,
    ssh_audit,
    ssh_command,
    try_login,
    try_password,
)

pytestmark = pytest.mark.host


def _listening_addresses(port: int) -> list[str]:
    """Local addresses of LISTEN sockets on `port`, from the kernel's tables (IPv4 and IPv6)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            addr, _, hexport = fields[1].partition(":")
            if int(hexport, 16) == port and fields[3] == "0A":  # 0A = TCP_LISTEN
                if len(addr) == 8:  # IPv4, little-endian hex
                    found.append(socket.inet_ntoa(bytes.fromhex(addr)[::-1]))
                else:
                    found.append(f"ipv6:{addr}")
    return found


def test_suite_runs_its_openssh_on_loopback_only(host_factory: HostFactory, suite: str) -> None:
    host = host_factory(suite)
    major, minor = (int(x) for x in EXPECTED_OPENSSH[suite].split("."))
    assert host.openssh_release == (major, minor)
    assert f"OpenSSH_{host.openssh_version}" in host.banner
    assert f"VERSION_CODENAME={suite}" in host.run("cat /etc/os-release", check=True).stdout
    effective = host.sshd_effective()
    assert effective["port"] == str(host.port)
    assert effective["listenaddress"] == f"{LOOPBACK}:{host.port}"
    assert _listening_addresses(host.port) == [LOOPBACK]


def test_root_logs_in_with_each_installed_key(
    host_factory: HostFactory, suite: str, client_keys: ClientKeys
) -> None:
    host = host_factory(suite)
    for key in client_keys.installed:
        assert try_login(host.port, "root", key), key.name
    assert not try_login(host.port, "root", client_keys.stranger)


def test_password_login_works_before_hardening(host_factory: HostFactory, suite: str) -> None:
    # A fresh cloud image: cloud-init's drop-in allows root and passwords.
    host = host_factory(suite)
    assert "password" in auth_methods(host.port, "root")
    assert try_password(host.port, "root", host.root_password)
    assert not try_password(host.port, "root", "not-" + host.root_password)
    assert host.sshd_effective()["permitrootlogin"] == "yes"


def test_without_cloud_init_root_password_is_refused(
    host_factory: HostFactory, client_key: Path
) -> None:
    host = host_factory("bookworm", cloud_init=False)
    assert host.run("test -e /etc/ssh/sshd_config.d/50-cloud-init.conf").returncode != 0
    assert not try_password(host.port, "root", host.root_password)  # prohibit-password
    assert try_login(host.port, "root", client_key)


def test_include_false_imitates_rhel_family_image(
    host_factory: HostFactory, suite: str, client_key: Path
) -> None:
    host = host_factory(suite, include=False)
    main = host.run("cat /etc/ssh/sshd_config", check=True).stdout
    assert not [ln for ln in main.splitlines() if ln.strip().lower().startswith("include")]
    assert host.run("ls -A /etc/ssh/sshd_config.d", check=True).stdout.split() == []
    for line in (f"Port {host.port}", f"ListenAddress {LOOPBACK}", "PermitRootLogin yes"):
        assert line in main.splitlines()
    assert host.sshd_effective()["port"] == str(host.port)
    assert try_login(host.port, "root", client_key)
    assert try_password(host.port, "root", host.root_password)


def test_two_hosts_at_once_have_own_ports_and_host_keys(
    host_factory: HostFactory, client_key: Path
) -> None:
    a = host_factory("bookworm")
    b = host_factory("bookworm")
    assert a.port != b.port
    assert try_login(a.port, "root", client_key)
    assert try_login(b.port, "root", client_key)
    for key_type in ("ssh-ed25519", "rsa-sha2-512", "ecdsa-sha2-nistp256"):
        assert server_host_key(a.port, key_type) != server_host_key(b.port, key_type)
    # The keys served are the fresh ones reported by host_public_keys().
    assert server_host_key(a.port) == a.host_public_keys()["ssh-ed25519"]
    assert server_host_key(b.port) == b.host_public_keys()["ssh-ed25519"]


def test_same_port_again_serves_new_host_keys(host_factory: HostFactory) -> None:
    # What a "host key changed" test needs: a new server on the port a client already knows.
    first = host_factory("bookworm")
    port, old_key = first.port, server_host_key(first.port)
    first.stop()
    second = host_factory("bookworm", port=port)
    assert second.port == port
    assert server_host_key(port) != old_key


@pytest.mark.parametrize("copy_mode", ["overlay", "copy"])
def test_stop_leaves_no_process_mount_or_files(copy_mode: CopyMode) -> None:
    host = TestHost("bookworm", copy_mode=copy_mode)
    host.start()
    try:
        init_pid, state_dir, port = host.init_pid, host.state_dir, host.port
        assert init_pid is not None and state_dir is not None
        inside = host.namespace_pids()
        assert init_pid in inside and len(inside) >= 2  # init and sshd at least
        # The namespace has its own mounts (proc, devpts, overlay) that the host never sees.
        ns_mounts = Path(f"/proc/{init_pid}/mounts").read_text()
        # (/proc/PID/mounts is relative to the process's root, here the chroot.)
        assert any(ln.split()[1:3] == ["/proc", "proc"] for ln in ns_mounts.splitlines())
    finally:
        host.stop()
    assert not Path(f"/proc/{init_pid}").exists()
    assert host.namespace_pids() == []
    assert all(not Path(f"/proc/{pid}").exists() for pid in inside)
    assert str(state_dir) not in Path("/proc/mounts").read_text()
    assert not state_dir.exists()
    assert _listening_addresses(port) == []
    host.stop()  # idempotent


def test_context_manager_stops_host_when_the_test_fails() -> None:
    with pytest.raises(ZeroDivisionError), TestHost("bookworm") as host:
        init_pid = host.init_pid
        assert init_pid is not None
        _ = 1 / 0
    assert host.init_pid is None and host.state_dir is None
    assert not Path(f"/proc/{init_pid}").exists()


def test_start_failure_raises_with_the_log_and_cleans_up() -> None:
    # Occupy the port first: sshd cannot bind, start() must say why and leave nothing behind.
    with socket.socket() as blocker:
        blocker.bind((LOOPBACK, 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        host = TestHost("bookworm", port=port)
        with pytest.raises(TestHostError, match="Address already in use"):
            host.start()
    assert host.init_pid is None and host.state_dir is None


def test_run_edits_inside_and_reload_keeps_listener_pid(
    host_factory: HostFactory, suite: str
) -> None:
    host = host_factory(suite)
    pid = host.listener_pid()
    # A drop-in that sorts before cloud-init's wins (sshd takes the first value it reads).
    host.run("echo 'PasswordAuthentication no' > /etc/ssh/sshd_config.d/05-test.conf", check=True)
    assert host.sshd_effective()["passwordauthentication"] == "no"  # sshd -T reads the files
    assert "password" in auth_methods(host.port, "root")  # ... the running sshd does not yet
    host.reload()
    assert "password" not in auth_methods(host.port, "root")
    assert host.listener_pid() == pid  # SIGHUP re-execs in place
    host.restart()
    assert host.listener_pid() != pid


def test_sshd_effective_applies_match_blocks(host_factory: HostFactory, suite: str) -> None:
    host = host_factory(suite)
    host.run(
        "printf 'Match User nobody\\n  PasswordAuthentication no\\n' "
        "> /etc/ssh/sshd_config.d/90-match.conf",
        check=True,
    )
    assert host.sshd_effective("root")["passwordauthentication"] == "yes"
    assert host.sshd_effective("nobody")["passwordauthentication"] == "no"
    assert all(key == key.lower() for key in host.sshd_effective())


def test_ssh_audit_reports_failures_of_a_stock_server(host_factory: HostFactory) -> None:
    host = host_factory("bullseye")
    report = ssh_audit(host.port)
    assert report["banner"]["software"].startswith("OpenSSH_8.4")
    failures = audit_failures(report)
    assert "key: ssh-rsa" in failures  # SHA-1 signatures, still offered by 8.4
    assert all(f.split(": ")[0] in {"kex", "key", "enc", "mac"} for f in failures)


def test_add_user_gives_a_sudo_login_like_ecs_user(
    host_factory: HostFactory, suite: str, client_keys: ClientKeys
) -> None:
    host = host_factory(suite, authorized_keys=[client_keys.ed25519])
    host.add_user("ecs-user", authorized_keys=[client_keys.rsa])
    assert try_login(host.port, "ecs-user", client_keys.rsa)
    assert not try_login(host.port, "ecs-user", client_keys.ed25519)  # root's key, not hers
    proc = ssh_command(host.port, "ecs-user", client_keys.rsa, "sudo -n id -u")
    assert (proc.returncode, proc.stdout.strip()) == (0, "0")


@pytest.mark.parametrize("penalties", [False, True])
def test_openssh_10_source_penalties_exempt_loopback_unless_asked(
    host_factory: HostFactory, penalties: bool
) -> None:
    # PerSourcePenalties (9.8+): connections that never authenticate cost 127.0.0.1 a second
    # each; from 15 s on it is refused. auth_methods() is such a connection.
    host = host_factory("trixie", source_penalties=penalties)
    exempt = host.sshd_effective()["persourcepenaltyexemptlist"]
    assert exempt == ("none" if penalties else LOOPBACK)
    refused = False
    for _ in range(40):
        try:
            auth_methods(host.port, "root")
        except SSHClientError:
            refused = True
            break
    assert refused == penalties
    if penalties:
        assert "penalty" in host.syslog()


def test_older_openssh_gets_no_penalty_option(host_factory: HostFactory) -> None:
    # The option is unknown before 9.8: writing it there would break sshd -t.
    host = host_factory("bookworm")
    assert "PerSourcePenalty" not in host.run("cat /etc/ssh/sshd_config.d/*", check=True).stdout


def test_client_key_files_are_private(client_keys: ClientKeys) -> None:
    for key in [*client_keys.installed, client_keys.stranger]:
        assert key.stat().st_mode & 0o777 == 0o600
        assert ClientKeys.public(key).split()[0] in {
            "ssh-ed25519",
            "ecdsa-sha2-nistp256",
            "ssh-rsa",
        }
    info = subprocess.run(
        ["ssh-keygen", "-lf", str(client_keys.rsa)], capture_output=True, text=True
    )
    assert info.stdout.startswith("3072 ")


_CHILD = """
import sys
from tests.testhosts.chroot import TestHost
host = TestHost("bookworm").start()
print(host.init_pid, host.state_dir, flush=True)
sys.stdin.readline()  # the test has seen the host running
if sys.argv[1] == "exit":
    sys.exit(0)  # without stop(): the atexit guard must stop it
sys.stdin.read()  # wait to be killed
"""


@pytest.mark.parametrize("ending", ["exit", "sigkill"])
def test_host_does_not_outlive_its_test_process(ending: str) -> None:
    repo = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, ending],
        cwd=repo,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    pid_text, state_dir_text = child.stdout.readline().split()
    init_pid, state_dir = int(pid_text), Path(state_dir_text)
    assert Path(f"/proc/{init_pid}").exists()
    assert child.stdin is not None
    child.stdin.write("seen\n")
    child.stdin.flush()
    if ending == "sigkill":
        child.kill()  # no finalizer, no atexit: the parent-death signal must do it
    child.wait()
    child.stdin.close()
    child.stdout.close()
    # The kernel delivers the death signals asynchronously: wait (bounded) for the init to go.
    for _ in range(3000):
        if not Path(f"/proc/{init_pid}").exists():
            break
        time.sleep(0.01)
    assert not Path(f"/proc/{init_pid}").exists()
    if ending == "sigkill":
        # Nobody in the dead process could clean up: the next session that starts a host does
        # (this one now, or another worker of the same run that started one meanwhile).
        reap_stale()
    assert not state_dir.exists()
