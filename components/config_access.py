"""Who may reach SSH on the servers and how they log in: source ranges, port, admin user, keys."""

from __future__ import annotations

import ipaddress

import pulumi

from components import sshkeys
from components.config_reader import NAMESPACE, Reader, config_set
from hardening.model import defaults, validation
from hardening.model.validation import admin_name_problem

DEFAULT_SSH_PORT = defaults.PORT
# IANA's system ("well-known") ports end here (RFC 6335); Linux lets only root bind them.
WELL_KNOWN_BELOW = 1024
# A source range this wide is "anywhere", not "your own ranges": no organisation's network is
# an IPv4 block larger than a /8 (16.7 M addresses, the largest ever handed out), nor an IPv6
# block larger than a /16 (regional registries themselves hold /12s, ISPs /19 to /32). Without
# this, 0.0.0.0/1 + 128.0.0.0/1 would open SSH to everyone while avoiding /0.
# policy/guardrails/ssh_ingress.py uses the same limits (a test keeps them in step).
ANYWHERE_BELOW_PREFIX = {4: 8, 6: 16}

_PRIVATE_KEY_FIX = (
    "`cat ~/.ssh/id_rsa | pulumi config set --secret hardened-ecs:sshPrivateKey --` "
    "(the private half of sshPublicKey)"
)
_NEW_KEY_FIX = (
    "create one with `ssh-keygen -t rsa -b 3072` and "
    '`pulumi config set hardened-ecs:sshPublicKey "$(cat ~/.ssh/id_rsa.pub)"`'
)


def read_ssh_cidrs(r: Reader, allow_anywhere: bool) -> tuple[str, ...]:
    key = "allowedSshCidrs"
    example = config_set(f"{key}[0]", "203.0.113.0/24", path=True)
    value = r.structured(key)
    if value is None or value == []:
        r.problem(
            key,
            "is missing: it lists who may reach SSH (your office or VPN ranges), and there is "
            "no safe default",
            example,
        )
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        r.problem(key, "must be a list of CIDR strings", example)
        return ()
    networks: list[str] = []
    for index, item in enumerate(value):
        item_fix = config_set(f"{key}[{index}]", "203.0.113.0/24", path=True)
        try:
            network = ipaddress.ip_network(item.strip(), strict=False)
        except ValueError:
            r.problem(key, f"item {index} {item!r} is not an IPv4 or IPv6 CIDR", item_fix)
            continue
        if network.network_address != ipaddress.ip_address(item.strip().split("/")[0]):
            single = f"{item.strip().split('/')[0]}/{network.max_prefixlen}"
            r.problem(
                key,
                f"item {index} {item!r} has host bits set: it means {network} (the network) "
                f"or {single} (one address)",
                config_set(f"{key}[{index}]", str(network), path=True) + f" or {single}",
            )
            continue
        if network.prefixlen < ANYWHERE_BELOW_PREFIX[network.version] and not allow_anywhere:
            wide = (
                "the whole internet"
                if network.prefixlen == 0
                else f"a large part of the internet (wider than /"
                f"{ANYWHERE_BELOW_PREFIX[network.version]}: {network.num_addresses:.3g} addresses)"
            )
            r.problem(
                key,
                f"item {index} {item!r} opens SSH to {wide}",
                f"list only your own ranges, e.g. {item_fix}; if you really mean it, "
                f"{config_set('allowSshFromAnywhere', 'true')}",
            )
            continue
        if str(network) in networks:
            r.problem(key, f"item {index} {item!r} is listed twice", f"remove item {index}")
            continue
        networks.append(str(network))
    return tuple(networks)


def read_ssh_port(r: Reader) -> int:
    """`sshPort`: the port sshd, the security group and every printed command use.

    IANA's well-known ports (below 1024, RFC 6335) belong to other services and need root to
    bind: one of those other than 22 is a slip more often than a plan, so it takes the intent
    setting `allowPrivilegedSshPort`.
    """
    key = "sshPort"
    value = r.raw(key)
    privileged_ok = r.boolean(
        "allowPrivilegedSshPort",
        f"{config_set('allowPrivilegedSshPort', 'true')} (or false: only 22 or 1024-65535)",
    )
    if value is None:
        return DEFAULT_SSH_PORT
    low, high = validation.PORTS
    fix = f"{config_set(key, '2222')} (any of {WELL_KNOWN_BELOW}-{high}), or 22"
    try:
        port = int(value.strip())
    except ValueError:
        r.problem(key, f"must be a TCP port number, got {value!r}", fix)
        return DEFAULT_SSH_PORT
    if not low <= port <= high:
        r.problem(key, f"must be from {low} to {high}, got {port}", fix)
        return DEFAULT_SSH_PORT
    if port < WELL_KNOWN_BELOW and port != DEFAULT_SSH_PORT and not privileged_ok:
        r.problem(
            key,
            f"is {port}, a well-known port of another service (below {WELL_KNOWN_BELOW})",
            f"{fix}; if you really mean {port}, {config_set('allowPrivilegedSshPort', 'true')}",
        )
    return port


def read_admin_user(r: Reader) -> tuple[str, bool]:
    user = r.text("adminUser")
    fix = config_set("adminUser", defaults.ADMIN_USER)
    before = len(r.problems)
    problem = admin_name_problem(user)  # the engine's own rule, also for --admin-user
    if problem:
        r.problem("adminUser", f"{user!r} is not usable: {problem}", fix)
    return user, len(r.problems) == before


def read_public_key(r: Reader) -> sshkeys.PublicKeyInfo | None:
    text = r.raw("sshPublicKey")
    if text is None or not text.strip():
        r.problem(
            "sshPublicKey",
            "is missing: the key pair for the servers and the admin user's login key",
            _NEW_KEY_FIX,
        )
        return None
    try:
        return sshkeys.parse_public_key(text)
    except sshkeys.KeyProblem as exc:
        r.problem("sshPublicKey", str(exc), _NEW_KEY_FIX)
        return None


def read_private_key(r: Reader, public: sshkeys.PublicKeyInfo | None) -> pulumi.Output[str] | None:
    key = "sshPrivateKey"
    full = f"{NAMESPACE}:{key}"
    text = r.raw(key)
    if text is None:
        if pulumi.runtime.is_dry_run():
            pulumi.log.warn(
                f"{full} is not set: this preview is fine, but `pulumi up` will refuse to "
                f"deploy until it is. Set it with {_PRIVATE_KEY_FIX}"
            )
        else:
            what = "is missing: the hardening step logs in to the servers with it"
            r.problem(key, what, _PRIVATE_KEY_FIX)
        return None
    if not pulumi.runtime.is_config_secret(full):
        r.problem(
            key,
            "is stored in plain text in the stack file",
            f"`pulumi config rm {full}`, then {_PRIVATE_KEY_FIX}; and replace the key if the "
            "file was shared",
        )
    if public is not None:
        try:
            sshkeys.private_key_matches(text, public)
        except sshkeys.KeyProblem as exc:
            r.problem(key, str(exc), _PRIVATE_KEY_FIX)
    return pulumi.Output.secret(text)
