"""A port move the host would defeat is refused before anything changes (issue 21 items 2 and
4, planning/port_guards.py): exit 4, files, `sshd -T`, the listener and the admin user as they
were.

Chroot host: another process (a tiny perl listener started inside the host, stopped by its
PID) listens on the wanted port. systemd host (its own network namespace): an nftables input
chain that drops what it does not accept, accepting 22 only. SELinux and ufw/firewalld are
judged on recorded/constructed facts only (tests/unit/test_port_guards.py): no test image has
them. The SELinux label step itself runs against a stand-in: `getenforce` saying Enforcing and
a `semanage` that logs what it is asked, in the host's /usr/local/sbin (first on the scripts'
PATH): its failure leaves the host untouched, and a rolled-back move takes the label away.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import ClientKeys
from tests.helpers import systemd_observe
from tests.helpers.fault_proofs import FaultCaseFactory, assert_old, snapshot
from tests.testhosts.chroot import TestHost
from tests.testhosts.fixtures import SystemdFactory
from tests.testhosts.loopback import allocate_port, listen_inodes
from tests.testhosts.machine import SystemdHost


@contextmanager
def another_listener(host: TestHost, port: int) -> Iterator[int]:
    """A perl listener inside the host on 127.0.0.1:`port`; yields its PID, killed by it."""
    started = host.run(
        "perl -MIO::Socket::INET -e '"
        '$s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ARGV[0], '
        'Listen => 5, ReuseAddr => 1) or die "bind: $!"; sleep 3600'
        f"' {port} </dev/null >/dev/null 2>&1 & echo $!",
        check=True,
    )
    pid = int(started.stdout.strip())
    try:
        yield pid
    finally:
        host.run(f"kill {pid}")


def test_a_port_another_service_listens_on_is_refused_and_the_host_left_as_it_was(
    fault_case: FaultCaseFactory,
) -> None:
    host, key, cli = fault_case("bookworm")
    other = allocate_port()
    with another_listener(host, other) as pid:
        for _ in range(100):  # bound by the time perl runs its sleep; poll for the socket
            if listen_inodes(other):
                break
            host.run("sleep 0.05")
        assert listen_inodes(other), "the perl listener did not bind"
        before, sockets = snapshot(host), host.listen_sockets()

        out = cli.run("apply", f"--set=Port={other}")
        assert out.code == 4, out
        said = out.stdout
        assert (
            f"port {other} is already in use on the host: perl (pid {pid}) listens on "
            f"127.0.0.1:{other}" in said
        ), out
        assert "choose another Port, or stop that service first (nothing changed)" in said, out
        assert_old(host, before, key)
        assert host.listen_sockets() == sockets

        # plan says the same before any apply.
        preview = cli.run("plan", f"--set=Port={other}")
        assert preview.code == 4, preview
        assert f"port {other} is already in use on the host: perl" in preview.stdout, preview
        assert_old(host, before, key)


_NFT_NAMED_SET = """
nft -f - <<'RULES'
table inet guard {
  set ssh_ports {
    type inet_service
    elements = { 22 }
  }
  chain input {
    type filter hook input priority filter; policy drop;
    ct state established,related accept
    iif "lo" accept
    tcp dport @ssh_ports accept
  }
}
RULES
"""

_NFT_DROP = """
nft -f - <<'RULES'
table inet guard {
  chain input {
    type filter hook input priority filter; policy drop;
    ct state established,related accept
    iif "lo" accept
    tcp dport 22 accept
  }
}
RULES
"""


def test_an_nftables_chain_that_would_drop_the_new_port_is_refused_on_a_systemd_host(
    systemd_factory: SystemdFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = systemd_factory("trixie")
    key = client_keys.ed25519
    host.run(_NFT_DROP, check=True)
    before = systemd_observe.snapshot(host)
    pid = systemd_observe.main_pid(host)
    cli = systemd_observe.cli_for(host, key, tmp_path)

    out = cli.run("apply", "--set=Port=2222")
    assert out.code == 4, out
    assert (
        "nftables chain inet guard input drops what it does not accept and accepts no "
        "2222/tcp: run `nft insert rule inet guard input tcp dport 2222 accept`" in out.stdout
    ), out
    assert "(nothing changed)" in out.stdout, out
    systemd_observe.assert_old(host, before, key)
    assert systemd_observe.main_pid(host) == pid

    # Opened as the message says, the guard lets the move through to the engine.
    host.run("nft insert rule inet guard input tcp dport 2222 accept", check=True)
    preview = cli.run("plan", "--set=Port=2222")
    assert preview.code == 0, preview
    assert "nftables chain" not in preview.stdout, preview


_FAKE_SELINUX = """
mkdir -p /usr/local/sbin
printf '#!/bin/sh\necho Enforcing\n' > /usr/local/sbin/getenforce
cat > /usr/local/sbin/semanage <<'FAKE'
#!/bin/sh
echo "$*" >> /var/log/fake-semanage.log
case "$1 $2" in
  "port -l") printf 'http_port_t                    tcp      80, 443\n'
             printf 'ssh_port_t                     tcp      22\n' ;;
  "port -a") [ ! -e /etc/fake-semanage-fails ] && exit 0
             echo "ValueError: Port tcp/$7 already defined" >&2; exit 1 ;;
esac
FAKE
chmod 755 /usr/local/sbin/getenforce /usr/local/sbin/semanage
"""


def _semanage_log(host: TestHost | SystemdHost) -> list[str]:
    out = host.run("cat /var/log/fake-semanage.log 2>/dev/null").stdout
    return [line for line in out.splitlines() if line != "port -l"]


def test_a_failed_selinux_label_leaves_the_host_untouched(fault_case: FaultCaseFactory) -> None:
    host, key, cli = fault_case("bookworm")
    host.run(_FAKE_SELINUX + "touch /etc/fake-semanage-fails", check=True)
    other = allocate_port()
    before = snapshot(host)

    out = cli.run("apply", f"--set=Port={other}")
    assert out.code == 4, out
    assert (
        f"could not label port {other}/tcp ssh_port_t for SELinux (semanage exit 30): "
        f"ValueError: Port tcp/{other} already defined; nothing changed" in out.stdout
    ), out
    # Asked under the lock; nothing to take back (it made no label); admin user undone too.
    assert _semanage_log(host) == [f"port -a -t ssh_port_t -p tcp {other}"]
    assert_old(host, before, key)
    assert listen_inodes(other) == set()


def test_a_rolled_back_move_takes_its_selinux_label_away_on_a_systemd_host(
    systemd_factory: SystemdFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    # The new port dropped by a rule the guards cannot read (a named set): a warning, not a
    # refusal; the fresh login cannot come through, the change rolls back, and so does the
    # label made for it.
    host = systemd_factory("trixie")
    key = client_keys.ed25519
    host.run(_FAKE_SELINUX, check=True)
    host.run(_NFT_NAMED_SET, check=True)
    before = systemd_observe.snapshot(host)
    cli = systemd_observe.cli_for(host, key, tmp_path)

    out = cli.run("apply", "--set=Port=2222")
    assert out.code == 4, out
    assert "rolled back" in out.stdout, out
    assert _semanage_log(host) == [
        "port -a -t ssh_port_t -p tcp 2222",
        "port -d -t ssh_port_t -p tcp 2222",
    ]
    systemd_observe.assert_old(host, before, key)
