"""Inside a systemd-booted test host: commands as root in its namespaces, its journal and
units, `sshd -T`, and the fault rules (nft in its own network namespace)."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Sequence
from typing import Final

from tests.testhosts import network
from tests.testhosts.procs import TestHostError

ENV: Final = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}


class MachineShell:
    """The in-host commands of `SystemdHost` (tests/testhosts/machine.py), which sets these."""

    name: str
    address: str
    bridge: network.Bridge
    init_pid: int | None

    def nsenter(
        self,
        argv: Sequence[str],
        *,
        namespaces: Sequence[str] = ("--all",),
        input: str | None = None,
        timeout: float | None = 120,
    ) -> subprocess.CompletedProcess[str]:
        if self.init_pid is None:
            raise TestHostError(f"{self!r} is not running")
        return subprocess.run(
            ["nsenter", "--target", str(self.init_pid), *namespaces, "--", *argv],
            input=input,
            capture_output=True,
            text=True,
            env=ENV,
            timeout=timeout,
            check=False,
        )

    def run(
        self, cmd: str, *, check: bool = False, input: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """A shell command as root inside the host (every namespace of its PID 1)."""
        proc = self.nsenter(["/bin/sh", "-c", cmd], input=input, timeout=timeout)
        if check and proc.returncode != 0:
            raise TestHostError(f"{self.name}: {cmd!r} exit {proc.returncode}: {proc.stderr}")
        return proc

    def journal(self, *args: str) -> str:
        """This boot's journal (`journalctl -b`), e.g. journal("-u", "ssh.service")."""
        return self.run(f"journalctl -b --no-pager -o short {shlex.join(args)}").stdout

    def failed_units(self) -> list[str]:
        out = self.run("systemctl list-units --failed --plain --no-legend").stdout
        return [ln.split()[0] for ln in out.splitlines() if ln.strip()]

    def is_active(self, unit: str) -> str:
        return self.run(f"systemctl is-active {shlex.quote(unit)}").stdout.strip()

    def sshd_effective(self, user: str = "root", addr: str | None = None) -> dict[str, str]:
        """`sshd -T` for a connection by `user` (Match blocks applied); keys lower-cased."""
        a = addr or self.bridge.gateway
        spec = f"user={user},host={a},addr={a},laddr={self.address},lport=22"
        # Debian 11's per-connection ssh@.service removes /run/sshd whenever one ends.
        for _ in range(20):
            proc = self.run(f"mkdir -p -m0755 /run/sshd; sshd -T -C {shlex.quote(spec)}")
            if "Missing privilege separation directory" not in proc.stderr:
                break
        if proc.returncode != 0:
            raise TestHostError(f"{self.name}: sshd -T exit {proc.returncode}: {proc.stderr}")
        out: dict[str, str] = {}
        for line in proc.stdout.splitlines():
            key, _, value = line.strip().partition(" ")
            if key:
                k = key.lower()
                out[k] = f"{out[k]}\n{value}" if k in out else value
        return out

    def nft(self, script: str) -> None:
        """Load an nft script inside the host's network namespace (the host's own nft)."""
        proc = self.run("nft -f -", input=script)
        if proc.returncode != 0:
            raise TestHostError(f"nft in {self.name}: {proc.stderr.strip()}")

    def stall_after_banner(self) -> None:
        """sshd still sends its banner, then the client's packets are dropped (network.py)."""
        self.run("sysctl -q -w net.netfilter.nf_conntrack_acct=1", check=True)
        self.nft(network.stall_rules())

    def heal(self) -> None:
        """Remove every fault rule (our own nft table only)."""
        self.run(f"nft delete table inet {network.FAULT_TABLE}")
