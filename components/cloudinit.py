"""The first-boot cloud-init document: closed from the first boot, with the host key we know.

What it holds, and in which order cloud-init acts on it (Debian/Ubuntu units: cloud-init's
network stage, where bootcmd, write_files, users-groups and ssh run, is ordered before
ssh.service and, through sysinit.target, before ssh.socket; proven on a real boot by
tests/hosts/test_first_boot.py):

1. ``bootcmd`` (every boot, earliest): on an sshd_config without ``Include`` (RHEL family) the
   closing lines go at the top of sshd_config itself, once, marked.
2. ``write_files``: the drop-in ``BOOT_DROPIN`` with ``CLOSING_LINES``, before sshd first starts.
3. ``users``: the admin user, our key, passwordless sudo; ``disable_root``: cloud-init also
   makes root's authorized_keys refuse logins.
4. ``ssh``: the host key the program generated (``ssh_keys``), no other host key types (the
   one type to generate is ed25519, whose file is the boot key), so the hardening step's first
   connection can pin its fingerprint.
5. ``runcmd`` (last): the admin account recorded as hardened-ecs's own.

The host private key makes this document a secret: the program passes it as one.
"""

from __future__ import annotations

import shlex

import yaml

from hardening.host.paths import STATE_DIR

# Alibaba passes user data to cloud-init; the API limit is 16 KB (before base64).
MAX_USER_DATA_BYTES = 16 * 1024

# Sorts after the hardening's own 00-hardened-ecs.conf (so that one stays first once applied)
# and before every image's own drop-in (50-cloud-init.conf, 60-cloudimg-settings.conf).
BOOT_DROPIN = "/etc/ssh/sshd_config.d/01-hardened-ecs-boot.conf"
# Keywords every supported OpenSSH (8.0-10.x) accepts. ChallengeResponseAuthentication is the
# older name of the keyboard-interactive switch (an alias since 8.7): both, so no release
# offers keyboard-interactive. No crypto or version-specific lines: a line sshd does not know
# would stop it from starting at all.
CLOSING_LINES = (
    "PermitRootLogin no",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "ChallengeResponseAuthentication no",
)
_MARK = "# hardened-ecs: closed from the first boot"

# The same record hardening/change/scripts/admin.sh writes for the accounts it creates.
_RECORDS = f"{STATE_DIR}/admin-users"
_RECORD_ADMIN = f'mkdir -p -m 700 {_RECORDS} && id -u "$1" > "{_RECORDS}/$1"'


def _no_include_fallback() -> str:
    """sh: without an Include line the drop-in is never read; put the lines on top, once."""
    lines = "\\n".join((_MARK, *CLOSING_LINES))
    conf = "/etc/ssh/sshd_config"
    return (
        f"[ -f {conf} ] || exit 0; grep -qF {shlex.quote(_MARK)} {conf} && exit 0; "
        f"grep -qiE '^[[:space:]]*Include[[:space:]]+/etc/ssh/sshd_config.d/' {conf} && exit 0; "
        f"{{ printf '{lines}\\n'; cat {conf}; }} > {conf}.hardened-ecs-boot && "
        f"chmod --reference={conf} {conf}.hardened-ecs-boot && "
        f"mv -f {conf}.hardened-ecs-boot {conf}"
    )


def dropin_text() -> str:
    return "\n".join((_MARK, *CLOSING_LINES)) + "\n"


def admin_user_data(
    admin_user: str, public_key: str, host_private_key: str, host_public_key: str
) -> str:
    """A ``#cloud-config``: closed at boot, ``admin_user`` with ``public_key`` (any type) and
    passwordless sudo, and the given ed25519 host key as the server's only host key.

    cloud-init writes the ``sudo`` rule to /etc/sudoers.d/90-cloud-init-users. The distro's
    default user is not created (no ``default`` entry): one login user, the one we manage.
    """
    document = {
        "bootcmd": [["sh", "-c", _no_include_fallback()]],
        "write_files": [
            {
                "path": BOOT_DROPIN,
                "owner": "root:root",
                "permissions": "0600",
                "content": dropin_text(),
            }
        ],
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
        # Root: refused by sshd (the drop-in) and by its authorized_keys (cloud-init's prefix).
        "disable_root": True,
        # Agrees with the drop-in; cloud-init's own 50-cloud-init.conf then says "no" as well.
        "ssh_pwauth": False,
        "ssh_deletekeys": True,
        # cloud-init's schema wants at least one type ([] fails "too short"). With ssh_keys
        # given, cc_ssh generates none; where a release would, it makes a type only when its
        # key file is missing, and ed25519's is the boot key: still exactly that one key.
        "ssh_genkeytypes": ["ed25519"],
        "ssh_keys": {
            "ed25519_private": host_private_key.strip() + "\n",
            "ed25519_public": host_public_key.strip(),
        },
        # Records the account as hardened-ecs's own (root-only, by uid): the hardening step
        # gives our key and sudo only to accounts it made or that the operator adopted.
        "runcmd": [["sh", "-c", _RECORD_ADMIN, "record-admin", admin_user]],
    }
    # safe_dump quotes whatever needs quoting (a key comment cannot inject YAML).
    text = "#cloud-config\n" + yaml.safe_dump(document, sort_keys=False, width=10_000)
    if len(text.encode()) > MAX_USER_DATA_BYTES:
        raise ValueError(f"user data is {len(text.encode())} bytes; Alibaba accepts 16 KB")
    return text
