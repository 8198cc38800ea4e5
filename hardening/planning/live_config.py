"""Have sshd's files been edited since the running sshd loaded them? Pure: facts in, a message.

Why refuse rather than roll back to the live state: an apply's rollback restores the files it
found and reloads them. When those files hold an edit the running sshd never loaded, the
"rollback" makes that edit live for the first time — seen with an sshd_config that had lost its
Include: after the rollback sshd listened on another port and the host was unreachable where it
had been reachable. Returning to the live state instead would need the configuration that was
loaded, which no file on the host holds any longer. So the apply stops before anything changes,
names the edit, and leaves the choice to the operator: reload it (then it is what runs, and what
a rollback returns to) or revert it.

What is compared is what a wrong reload loses first: the ports and addresses sshd listens on
(`sshd -T` of the files against the listener's sockets). Not compared, and so never refused:
socket activation (systemd holds the port, not sshd_config), a listener whose command line sets
the port, address or config file itself (`-p`, `-f`, `-o Port=`), and a listener we could not
read (no pid, not root).
"""

from __future__ import annotations

import ipaddress
import re

from hardening.host.facts import HostFacts
from hardening.host.listening import Endpoint

# Options on sshd's own command line that decide what it listens on, beyond the files.
_COMMAND_LINE_LISTEN = re.compile(r"(?:^|\s)-(?:[pf](?![A-Za-z])|o\s*(?i:port|listenaddress)\b)")


def _endpoint(text: str) -> Endpoint | None:
    """`0.0.0.0:22` or `[::]:22` as `sshd -T` prints a listenaddress; None: not an IP."""
    host, _, port = text.rpartition(":")
    try:
        return str(ipaddress.ip_address(host.strip("[]"))), int(port)
    except ValueError:
        return None


def files_endpoints(effective: dict[str, str]) -> frozenset[Endpoint] | None:
    """What sshd would listen on with the files as they are (None: cannot tell)."""
    tokens = effective.get("listenaddress", "").split()
    found = set()
    skip = False
    for token in tokens:
        if skip or token == "rdomain":  # `listenaddress ADDR:PORT rdomain NAME`
            skip = not skip
            continue
        endpoint = _endpoint(token)
        if endpoint is None:
            return None
        found.add(endpoint)
    return frozenset(found) or None


def _shown(endpoints: frozenset[Endpoint]) -> str:
    return ", ".join(
        f"[{a}]:{p}" if ":" in a else f"{a}:{p}" for a, p in sorted(endpoints, key=str)
    )


def unloaded_edit(facts: HostFacts) -> str | None:
    """A message naming the pending edit, or None when the files match what sshd runs (or
    when that cannot be told: see the module's docstring)."""
    live = facts.listening
    if not live or facts.service.socket_activated:
        return None
    if _COMMAND_LINE_LISTEN.search(facts.listener_cmdline):
        return None
    files = files_endpoints(facts.effective)
    if files is None:
        return None
    # An address in the files but not live on a port that is: one sshd could not bind (an IPv6
    # wildcard on a host without IPv6), and a reload would not bind it either.
    same_ports = {p for _, p in files} == {p for _, p in live}
    if same_ports and live <= files:
        return None
    name, manager = facts.service.name, facts.service.manager
    reload = f"systemctl reload {name}" if manager == "systemd" else f"service {name} reload"
    return (
        f"sshd's files hold an edit the running sshd has not loaded: it listens on "
        f"{_shown(live)}, its files say {_shown(files)} (Port/ListenAddress). An apply would "
        "make that edit live, and its rollback would return to it, not to what runs now. "
        f"Reload sshd yourself ({reload}) if the edit is meant, or revert the edit; then apply "
        "again (nothing changed)"
    )
