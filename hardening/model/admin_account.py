"""Which account may be the admin user: one rule for the CLI, the inventory and the stack.

The admin user gets our key and passwordless sudo, so it is root in all but name. Two halves:
the name (checked before connecting, by everyone who takes one: validation.admin_name_problem)
and the account on the host (checked from the facts, before anything changes; here).
"""

from __future__ import annotations

from dataclasses import dataclass

# Shells that mean "this account does not log in".
_NO_LOGIN_SHELLS = ("nologin", "false", "sync", "halt", "shutdown")


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
