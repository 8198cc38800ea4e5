"""Which account may be the admin user: one rule for the CLI, the inventory and the stack.

The admin user gets our key and passwordless sudo, so it is root in all but name. Two halves:
the name (checked before connecting, by everyone who takes one) and the account on the host
(checked from the facts, before anything changes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LOGIN_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")

# Accounts that exist on Debian/Ubuntu/RHEL-family images and Alibaba's own images: a daemon's
# account, or an image's default user that someone else may already use.
SYSTEM_ACCOUNTS = frozenset(
    {
        *("root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp"),
        *("proxy", "www-data", "backup", "list", "irc", "gnats", "nobody", "sshd", "messagebus"),
        *("syslog", "admin", "ubuntu", "debian", "ecs-user", "ecs-assist-user"),
        *("adm", "halt", "shutdown", "operator", "ftp", "systemd-network", "polkitd", "chrony"),
    }
)

# Shells that mean "this account does not log in".
_NO_LOGIN_SHELLS = ("nologin", "false", "sync", "halt", "shutdown")


def admin_name_problem(name: str) -> str | None:
    """Why `name` cannot be the admin user (None: it can). Host-independent."""
    if name == "root":
        return "it must be a login name other than root (the hardening closes root's login)"
    if not LOGIN_NAME.fullmatch(name):
        return (
            "it must be a login name other than root (lower-case letters, digits, _ or -, "
            "starting with a letter or _, at most 32)"
        )
    if name in SYSTEM_ACCOUNTS:
        return "it is a system or image account (it already exists for another purpose)"
    return None


@dataclass(frozen=True)
class Account:
    """The admin user's account as the host has it (see scripts/facts.sh, section admin)."""

    exists: bool
    uid: int | None = None
    shell: str = ""
    uid_min: int = 1000  # UID_MIN of /etc/login.defs: the first uid of the login range
    ours: bool = False  # hardened-ecs created it (its root-only record names this uid)


def admin_account_problem(name: str, account: Account, adopt: bool) -> str | None:
    """Why the existing account `name` must not be given our key and sudo (None: it may)."""
    if not account.exists:
        return None
    if account.uid is not None and account.uid < account.uid_min:
        return (
            f"admin user {name} is a system account (uid {account.uid}, below the login range "
            f"from {account.uid_min}); choose another --admin-user"
        )
    if account.shell.rsplit("/", 1)[-1] in _NO_LOGIN_SHELLS or not account.shell:
        return (
            f"admin user {name} has no login shell ({account.shell or 'none'}); "
            "choose another --admin-user"
        )
    if not account.ours and not adopt:
        return (
            f"admin user {name} already exists on the host and was not created by "
            "hardened-ecs: giving it our key and passwordless sudo would hand root to whoever "
            "uses it; pass --adopt-admin-user (inventory: adopt_admin_user: true, stack: "
            "hardening.adoptAdminUser) if it is yours, or choose another --admin-user"
        )
    return None
