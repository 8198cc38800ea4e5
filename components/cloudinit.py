"""The first-boot cloud-init document: closed from the first boot, with the host key we know.

What it holds, and in which order cloud-init acts on it (Debian/Ubuntu units: cloud-init's
network stage, where bootcmd, write_files, users-groups and ssh run, is ordered before
ssh.service and, through sysinit.target, before ssh.socket; proven on a real boot by
tests/hosts/test_first_boot.py):

1. ``bootcmd`` (every boot, earliest): on an sshd_config without ``Include`` (RHEL family) the
   closing lines go at the top of sshd_config itself, once, marked. With an ``sshPort`` other
   than 22, also (once per instance) the ssh.socket drop-in ``SOCKET_DROPIN`` (below).
2. ``write_files``: the drop-in ``BOOT_DROPIN`` with ``CLOSING_LINES`` (and ``Port N``), before
   sshd first starts.
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

from hardening.host.paths import STATE_DIR, socket_dropin
from hardening.planning.socket_port import dropin_text as socket_dropin_text

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

# Another sshPort from the first boot. ssh.service reads `Port` from the drop-in; under socket
# activation (Ubuntu 22.10+, ssh.socket) systemd holds the port and sshd's Port is not read.
# Generators (Ubuntu 24.04's sshd-socket-generator) ran before cloud-init wrote anything, and
# other hosts have none. So bootcmd (cloud-init's network stage: before sysinit.target, hence
# before ssh.socket starts) writes the socket drop-in the engine itself writes when it moves
# the port (hardening/planning/socket_port.py: one definition, so the first apply finds it as
# it wants it and later moves replace it), and reloads systemd: the socket's first start
# listens on the new port. Only `daemon-reload`: a start/restart job from a unit ordered
# before sysinit.target would wait for it, a deadlock. Once per instance (cloud-init-per):
# from then on the hardening owns the port.
SOCKET_SERVICE = "ssh"  # Debian's and Ubuntu's unit names (the RHEL family runs sshd.service)
SOCKET_DROPIN = socket_dropin(SOCKET_SERVICE)

# The same record hardening/change/scripts/admin.sh writes for the accounts it creates.
_RECORDS = f"{STATE_DIR}/admin-users"
_RECORD_ADMIN = f'mkdir -p -m 700 {_RECORDS} && id -u "$1" > "{_RECORDS}/$1"'


def _boot_lines(ssh_port: int) -> tuple[str, ...]:
    port = () if ssh_port == 22 else (f"Port {ssh_port}",)
    return (_MARK, *CLOSING_LINES, *port)


def _no_include_fallback(ssh_port: int) -> str:
    """sh: without an Include line the drop-in is never read; put the lines on top, once."""
    lines = "\\n".join(_boot_lines(ssh_port))
    conf = "/etc/ssh/sshd_config"
    return (
        f"[ -f {conf} ] || exit 0; grep -qF {shlex.quote(_MARK)} {conf} && exit 0; "
        f"grep -qiE '^[[:space:]]*Include[[:space:]]+/etc/ssh/sshd_config.d/' {conf} && exit 0; "
        f"{{ printf '{lines}\\n'; cat {conf}; }} > {conf}.hardened-ecs-boot && "
        f"chmod --reference={conf} {conf}.hardened-ecs-boot && "
        f"mv -f {conf}.hardened-ecs-boot {conf}"
    )


def _socket_port(ssh_port: int) -> list[str]:
    """bootcmd: ssh.socket listens on `ssh_port` from its first start (SOCKET_DROPIN)."""
    folder = SOCKET_DROPIN.rsplit("/", 1)[0]
    text = shlex.quote(socket_dropin_text(str(ssh_port)))
    script = (
        "[ -d /run/systemd/system ] || exit 0; "
        f"mkdir -p {folder} && printf %s {text} > {SOCKET_DROPIN}.tmp && "
        f"mv -f {SOCKET_DROPIN}.tmp {SOCKET_DROPIN} && systemctl daemon-reload"
    )
    return ["cloud-init-per", "instance", "hardened-ecs-ssh-port", "sh", "-c", script]


def dropin_text(ssh_port: int = 22) -> str:
    return "\n".join(_boot_lines(ssh_port)) + "\n"


def admin_user_data(
    admin_user: str,
    public_key: str,
    host_private_key: str,
    host_public_key: str,
    ssh_port: int = 22,
) -> str:
    """A ``#cloud-config``: closed at boot, ``admin_user`` with ``public_key`` (any type) and
    passwordless sudo, the given ed25519 host key as the server's only host key, and sshd on
    ``ssh_port`` from its first start (on 22 the document is what it always was).

    cloud-init writes the ``sudo`` rule to /etc/sudoers.d/90-cloud-init-users. The distro's
    default user is not created (no ``default`` entry): one login user, the one we manage.
    """
    document = {
        "bootcmd": [
            ["sh", "-c", _no_include_fallback(ssh_port)],
            *([] if ssh_port == 22 else [_socket_port(ssh_port)]),
        ],
        "write_files": [
            {
                "path": BOOT_DROPIN,
                "owner": "root:root",
                "permissions": "0600",
                "content": dropin_text(ssh_port),
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
