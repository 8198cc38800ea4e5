"""Placeholder values: what the committed stack files hold until someone makes them their own.

The committed dev and prod stacks carry documentation address ranges (RFC 5737 / RFC 3849) in
allowedSshCidrs and a throw-away public key marked ``placeholder-replace-me``, so that they can
be previewed and checked anywhere. Such a stack is fine for a preview and wrong for a
deployment: nobody could reach the servers, nor log in. The gates report them from here
(scripts/validate.py: a warning, or an error with ``--for-up``; `make up` refuses them); the
program does not, as its tests deploy the committed stacks under mocks.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping

from components.config_reader import NAMESPACE, config_set, problem_text

# Address ranges reserved for documentation: no real network uses them.
DOCUMENTATION_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)
# The comment of the committed stacks' throw-away public key.
PLACEHOLDER_MARK = "placeholder-replace-me"


def _documentation_range(cidr: str) -> bool:
    try:
        network = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:  # config validation reports it, with its own fix
        return False
    return any(
        network.version == doc.version and network.subnet_of(doc)  # type: ignore[arg-type]
        for doc in DOCUMENTATION_NETWORKS
    )


def placeholder_problems(config: Mapping[str, str]) -> list[str]:
    """The placeholders in a stack's raw configuration (``namespace:key`` -> value as the
    engine hands it over), each naming the key and the command that replaces it."""
    problems: list[str] = []
    raw_cidrs = config.get(f"{NAMESPACE}:allowedSshCidrs")
    try:
        cidrs = json.loads(raw_cidrs) if raw_cidrs is not None else []
    except ValueError:
        cidrs = []
    for index, cidr in enumerate(cidrs if isinstance(cidrs, list) else []):
        if isinstance(cidr, str) and _documentation_range(cidr):
            problems.append(
                problem_text(
                    "allowedSshCidrs",
                    f"item {index} {cidr!r} is a documentation range, a placeholder: nobody "
                    "could reach the servers",
                    config_set(f"allowedSshCidrs[{index}]", '"$MY_CIDR"', path=True)
                    + " with MY_CIDR the public range your SSH comes from (office, VPN)",
                )
            )
    public_key = config.get(f"{NAMESPACE}:sshPublicKey", "")
    if PLACEHOLDER_MARK in public_key:
        problems.append(
            problem_text(
                "sshPublicKey",
                f"is the committed placeholder key ({PLACEHOLDER_MARK}): its private half was "
                "deleted",
                config_set("sshPublicKey", '"$(cat ~/.ssh/id_rsa.pub)"'),
            )
        )
    return problems
