"""The test network: one bridge per test process, an address per host, faults by nft.

Each process claims a /24 of 10.231.0.0/16 (a claim file under RUN_DIR, taken with O_EXCL and
reclaimed only when its owner is dead) and makes the bridge `hecsb<N>` with 10.231.N.1 on it.
Hosts get 10.231.N.2 and up; extra /32s on the bridge give probes their own source address
(OpenSSH 9.8+ penalises an address with failed logins). Nothing is ever forwarded or NATed:
a host is reachable from this machine only, at its own address.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import json
import os
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from tests.testhosts.procs import TestHostError, alive, proc_stat

RUN_DIR: Final = Path(os.environ.get("HARDENED_ECS_NET_DIR", "/run/hardened-ecs/net"))
# The benchmark (bench/latency.py) keeps apart from the suites: its own octet and bridge names.
_OCTET: Final = int(os.environ.get("HARDENED_ECS_NET_OCTET", "231"))
PREFIX: Final = ipaddress.ip_network(f"10.{_OCTET}.0.0/16")
BRIDGE_PREFIX: Final = os.environ.get("HARDENED_ECS_BRIDGE_PREFIX", "hecsb")
# Machine (and so veth and cgroup) names: apart too, as the bridge index alone may repeat.
HOST_PREFIX: Final = "hecsl" if BRIDGE_PREFIX == "hecsl" else "hecs"
FIRST_HOST: Final = 2
FIRST_PROBE: Final = 200  # .200-.250: source addresses for probes that are meant to fail


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


def _me() -> dict[str, int]:
    st = proc_stat(os.getpid())
    return {"pid": os.getpid(), "start": st.start if st else 0}


@dataclass
class Bridge:
    """This process's bridge and the addresses handed out on it."""

    index: int
    _next_host: int = FIRST_HOST
    _next_probe: int = FIRST_PROBE
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        return f"{BRIDGE_PREFIX}{self.index}"

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(f"10.{_OCTET}.{self.index}.0/24")

    @property
    def gateway(self) -> str:
        return str(self.network.network_address + 1)

    def host_address(self) -> str:
        with self._lock:
            if self._next_host >= FIRST_PROBE:
                raise TestHostError(f"no host address left on {self.name}")
            n, self._next_host = self._next_host, self._next_host + 1
        return str(self.network.network_address + n)

    def probe_address(self) -> str:
        """A fresh source address on this machine, on the bridge (for deliberately bad logins)."""
        with self._lock:
            if self._next_probe > 250:
                raise TestHostError(f"no probe address left on {self.name}")
            n, self._next_probe = self._next_probe, self._next_probe + 1
        addr = str(self.network.network_address + n)
        proc = _ip("addr", "add", f"{addr}/32", "dev", self.name)
        if proc.returncode != 0:
            raise TestHostError(f"ip addr add {addr}: {proc.stderr.strip()}")
        return addr


def _claim_path(index: int) -> Path:
    return RUN_DIR / f"{index}.json"


def _reap_claim(index: int) -> bool:
    """Drop a claim whose owner is dead (and its bridge); True if the index is free now."""
    path = _claim_path(index)
    try:
        owner = json.loads(path.read_text())
    except FileNotFoundError:
        return True
    except (OSError, ValueError):
        return False  # being written right now
    if alive(int(owner["pid"]), int(owner["start"])):
        return False
    _ip("link", "del", f"{BRIDGE_PREFIX}{index}")
    path.unlink(missing_ok=True)
    return True


def reap_stale() -> int:
    """Drop the claims (and bridges) of processes that died; return how many."""
    if not RUN_DIR.is_dir():
        return 0
    reaped = 0
    for claim in RUN_DIR.glob("*.json"):
        if claim.stem.isdigit() and claim.exists() and _reap_claim(int(claim.stem)):
            reaped += 1
    return reaped


_BRIDGE: Bridge | None = None
_BRIDGE_LOCK = threading.Lock()


def bridge() -> Bridge:
    """This process's bridge, made on first use and deleted at exit."""
    global _BRIDGE
    with _BRIDGE_LOCK:
        if _BRIDGE is not None:
            return _BRIDGE
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        for index in range(256):
            if not _reap_claim(index):
                continue
            try:
                fd = os.open(_claim_path(index), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(_me(), f)
            b = Bridge(index)
            _ip("link", "del", b.name)  # left by a process that died before its claim file
            for args in (
                ("link", "add", b.name, "type", "bridge"),
                ("addr", "add", f"{b.gateway}/24", "dev", b.name),
                ("link", "set", b.name, "up"),
            ):
                proc = _ip(*args)
                if proc.returncode != 0:
                    _drop(b)
                    raise TestHostError(f"ip {' '.join(args)}: {proc.stderr.strip()}")
            _BRIDGE = b
            atexit.register(_drop, b)
            return b
        raise TestHostError(f"every /24 of {PREFIX} is claimed by a live process")


def _drop(b: Bridge) -> None:
    _ip("link", "del", b.name)
    with contextlib.suppress(OSError):
        owner = json.loads(_claim_path(b.index).read_text())
        if owner == _me():
            _claim_path(b.index).unlink()


# --------------------------------------------------------------------------- faults (nft)

# A table of our own inside the host's network namespace: faults never touch anything else.
FAULT_TABLE: Final = "hecs_faults"


def fault_rules(*, port: int = 22, both_ways: bool = False) -> str:
    """An nft script that drops new traffic to `port` (a filtered port), or every packet of
    the port in both directions (a cut: established sessions stall too)."""
    rules = [f"tcp dport {port} drop"]
    hooks = ["input"]
    if both_ways:
        rules.append(f"tcp sport {port} drop")
        hooks.append("output")
    body = "".join(f"    {r}\n" for r in rules)
    chains = "".join(
        f"  chain {h} {{\n    type filter hook {h} priority -10; policy accept;\n{body}  }}\n"
        for h in hooks
    )
    return f"table inet {FAULT_TABLE} {{\n{chains}}}\n"


# Past the TCP handshake and the client's banner (a few hundred bytes), before its KEXINIT.
STALL_AFTER_BYTES: Final = 600


def stall_rules(*, port: int = 22, after_bytes: int = STALL_AFTER_BYTES) -> str:
    """An nft script under which the server sends its banner and then hears nothing more
    from the client: a hung or overloaded sshd, seen from the client. Needs conntrack byte
    accounting in the namespace (net.netfilter.nf_conntrack_acct=1)."""
    return (
        f"table inet {FAULT_TABLE} {{\n"
        "  chain input {\n    type filter hook input priority -10; policy accept;\n"
        f"    tcp dport {port} ct original bytes > {after_bytes} drop\n  }}\n}}\n"
    )
