"""The fresh chroot test hosts `python -m bench.run` measures on (tests/testhosts/chroot.py):
started and stopped here, with the client key, known_hosts and the host-side counters."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

from tests.testhosts.chroot import TestHost

SUITE = "bookworm"  # the host kind the Ansible figures were measured on


def client_key(workdir: Path) -> Path:
    key = workdir / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-N", "", "-t", "ed25519", "-C", "bench", "-f", str(key)],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return key


@contextlib.contextmanager
def fresh_hosts(count: int, key: Path) -> Iterator[list[TestHost]]:
    """`count` freshly started hosts with our key for root; all stopped afterwards."""
    hosts: list[TestHost] = []
    try:
        for _ in range(count):
            # Started one by one in the main thread: a host dies with this process even if it
            # is killed (parent-death signal), and no start competes with a measurement.
            host = TestHost(SUITE, authorized_keys=[key])
            hosts.append(host)
            host.start()
            make_hostname_resolvable(host)
        yield hosts
    finally:
        for host in hosts:
            host.stop()


# A real server resolves its own name from /etc/hosts (Debian's installer and cloud-init write
# it); the debootstrap image has no /etc/hosts, so every `sudo` (which looks its host name up)
# asked DNS instead, and concurrent lookups here sometimes waited out the resolver's 5 s
# timeout. The test hosts share this machine's host name (no UTS namespace).
_RESOLVABLE_HOSTNAME = (
    'name=$(hostname); grep -qs "[[:space:]]$name\\([[:space:]]\\|$\\)" /etc/hosts'
    ' || printf "127.0.0.1 localhost\\n127.0.1.1 %s\\n" "$name" >> /etc/hosts'
)


def make_hostname_resolvable(host: TestHost) -> None:
    """Put the host's name in its /etc/hosts, as on a real server (unless it is there)."""
    host.run(_RESOLVABLE_HOSTNAME, check=True)


def host_cpu(host: TestHost) -> float:
    """CPU seconds the host's processes used so far: every live process's own time plus the
    time of the children it reaped (sshd's sessions, sudo, sshd -T, ...), so nothing twice."""
    ticks = 0
    for pid in host.namespace_pids():
        try:
            data = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = data[data.rindex(")") + 2 :].split()
        ticks += sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def write_known_hosts(path: Path, hosts: Sequence[TestHost]) -> Path:
    """An operator's known_hosts for these hosts (their fresh keys, every type)."""
    path.write_text(
        "".join(
            f"[127.0.0.1]:{h.port} {line}\n"
            for h in hosts
            for line in h.host_public_keys().values()
        )
    )
    return path


def sshd_logins(host: TestHost, since: int) -> int:
    """SSH logins the host's sshd accepted in its syslog after offset `since`."""
    return sum("Accepted publickey for" in ln for ln in host.syslog()[since:].splitlines())
