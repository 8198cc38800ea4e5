"""The first-boot cloud-init document: an admin user who logs in with the key and may sudo."""

from __future__ import annotations

import yaml

from hardening.facts import STATE_DIR

# Alibaba passes user data to cloud-init; the API limit is 16 KB (before base64).
MAX_USER_DATA_BYTES = 16 * 1024


# The same record hardening/scripts/admin.sh writes for the accounts it creates.
_RECORDS = f"{STATE_DIR}/admin-users"
_RECORD_ADMIN = f'mkdir -p -m 700 {_RECORDS} && id -u "$1" > "{_RECORDS}/$1"'


def admin_user_data(admin_user: str, public_key: str) -> str:
    """A ``#cloud-config`` that creates ``admin_user`` with ``public_key`` and passwordless sudo.

    cloud-init writes the ``sudo`` rule to /etc/sudoers.d/90-cloud-init-users. The distro's
    default user is not created (no ``default`` entry): one login user, the one we manage. Root
    keeps the key pair's key: the hardening step bootstraps as root, then closes root login.
    """
    document = {
        "users": [
            {
                "name": admin_user,
                "gecos": "hardened-ecs administrator",
                "shell": "/bin/bash",
                "lock_passwd": True,
                "sudo": "ALL=(ALL) NOPASSWD:ALL",
                "ssh_authorized_keys": [public_key.strip()],
            }
        ],
        # Agrees with the hardening profile; closes passwords from the very first boot.
        "ssh_pwauth": False,
        # Records the account as hardened-ecs's own (root-only, by uid): the hardening step
        # gives our key and sudo only to accounts it made or that the operator adopted.
        "runcmd": [["sh", "-c", _RECORD_ADMIN, "record-admin", admin_user]],
    }
    # safe_dump quotes whatever needs quoting (a key comment cannot inject YAML).
    text = "#cloud-config\n" + yaml.safe_dump(document, sort_keys=False, width=10_000)
    if len(text.encode()) > MAX_USER_DATA_BYTES:
        raise ValueError(f"user data is {len(text.encode())} bytes; Alibaba accepts 16 KB")
    return text
