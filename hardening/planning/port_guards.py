"""What on the host would make moving sshd's port fail, found before anything changes. Pure:
facts in, refusals and the one step the move needs out.

- Another service already listens on the wanted port: refused (sshd could not bind it).
- SELinux enforcing and the port not labeled `ssh_port_t`: sshd's bind would be denied, so the
  port is labeled under the host lock before the reload (`semanage port -a`) and the label
  removed again when the change is undone (hardening/change/port_label.py). Refused when
  semanage is not installed, or when the policy gives the port itself to another type.
- The host firewall would drop the port: host_firewall.py (refused with the command to open
  it, or a warning when the rules cannot be read).

Only a request that sets Port to a port sshd does not already use is judged; the facts script
reads listeners, SELinux and the firewall only then (some of it costs a second).
"""

from __future__ import annotations

from dataclasses import dataclass

from hardening.host.facts import HostFacts
from hardening.host.port_facts import PortFacts
from hardening.planning.host_firewall import firewall_verdict
from hardening.planning.live_config import files_endpoints

SSH_PORT_TYPE = "ssh_port_t"
SEMANAGE_PACKAGE = "policycoreutils-python-utils (policycoreutils-python on RHEL/CentOS 7)"


@dataclass(frozen=True)
class PortGuards:
    refusals: tuple[str, ...] = ()  # each names the cause and the fix; nothing may change
    label: int | None = None  # label this port ssh_port_t under the lock, before the reload
    warnings: tuple[str, ...] = ()


def current_ports(facts: HostFacts) -> frozenset[int]:
    """The ports sshd uses now: its files' (`sshd -T`) and its listener's sockets."""
    ports = {int(p) for p in facts.effective.get("port", "").split() if p.isdigit()}
    ports |= {p for _, p in files_endpoints(facts.effective) or ()}
    ports |= {p for _, p in facts.listening or ()}
    return frozenset(ports)


def is_a_move(facts: HostFacts, wanted: int | None) -> bool:
    return wanted is not None and wanted not in current_ports(facts)


def _in_use(ports: PortFacts, wanted: int, sshd_pid: int | None) -> str | None:
    others = [
        x for x in ports.listeners if x.port == wanted and (x.pid is None or x.pid != sshd_pid)
    ]
    if not others:
        return None
    x = others[0]
    who = f"{x.process} (pid {x.pid})" if x.pid is not None else "a process we could not identify"
    address = f"[{x.endpoint[0]}]" if ":" in x.endpoint[0] else x.endpoint[0]
    return (
        f"port {wanted} is already in use on the host: {who} listens on {address}:{wanted}; "
        "choose another Port, or stop that service first"
    )


def _selinux(ports: PortFacts, wanted: int) -> tuple[str | None, int | None]:
    """(a refusal, or the port to label)."""
    if ports.selinux != "enforcing":
        return None, None
    ssh = ports.labels.get(SSH_PORT_TYPE, ())
    if any(low <= wanted <= high for low, high in ssh):
        return None, None
    if not ports.semanage:
        return (
            f"SELinux is enforcing and port {wanted}/tcp is not labeled {SSH_PORT_TYPE}, so "
            f"sshd could not bind it, and semanage is not installed to label it: install "
            f"{SEMANAGE_PACKAGE}, then apply again",
            None,
        )
    if not ports.labels:
        return "SELinux is enforcing and `semanage port -l` listed no port labels", None
    taken = sorted(t for t, ranges in ports.labels.items() if (wanted, wanted) in ranges)
    if taken:
        return (
            f"SELinux's policy gives port {wanted}/tcp to {', '.join(taken)}, not "
            f"{SSH_PORT_TYPE}: choose another Port",
            None,
        )
    return None, wanted


def port_guards(facts: HostFacts, wanted: int) -> PortGuards:
    """The guards of moving sshd from its current ports to `wanted` (a move: is_a_move)."""
    ports = facts.ports
    if ports is None:
        return PortGuards(refusals=("the host's listeners and firewall were not read",))
    refusals: list[str] = []
    in_use = _in_use(ports, wanted, facts.service.listener_pid)
    if in_use:
        refusals.append(in_use)
    selinux_refusal, label = _selinux(ports, wanted)
    if selinux_refusal:
        refusals.append(selinux_refusal)
    verdict = firewall_verdict(ports, wanted)
    if verdict.refusal:
        refusals.append(verdict.refusal)
    return PortGuards(
        refusals=tuple(refusals),
        label=label,
        warnings=(verdict.warning,) if verdict.warning else (),
    )
