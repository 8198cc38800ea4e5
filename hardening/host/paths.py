"""Where things live on a host: sshd's files, our state, and the names a change stages under.

One definition each, for the facts script, the plan, the transaction and cloud-init.
"""

from __future__ import annotations

import posixpath

STATE_DIR = "/var/lib/hardened-ecs"
MAIN_CONFIG = "/etc/ssh/sshd_config"
DROPIN_DIR = "/etc/ssh/sshd_config.d"

# Our drop-in for a socket-activated sshd's socket unit (planning/socket_port.py): it must sort
# after every other drop-in of the unit (Ubuntu's generator writes addresses.conf), so that
# its `ListenStream=` reset comes last.
SOCKET_DROPIN_NAME = "zz-hardened-ecs-port.conf"


def socket_dropin(service: str) -> str:
    """Our drop-in for `service`.socket (ssh or sshd)."""
    return f"/etc/systemd/system/{service}.socket.d/{SOCKET_DROPIN_NAME}"


# Beside each file it replaces: the staged candidate, and the backup the rollback restores
# (hard links). One definition: scripts/txn.sh gets both in its header (transaction.py).
CANDIDATE_SUFFIX = ".hardened-ecs-new"
BACKUP_SUFFIX = ".hardened-ecs-old"


def staged_path(path: str) -> str:
    """Where a candidate waits beside its target (same filesystem: the rename is atomic)."""
    head, tail = posixpath.split(path)
    return posixpath.join(head, f".{tail}{CANDIDATE_SUFFIX}")
