"""Where things live on a host: sshd's files, our state, and the names a change stages under.

One definition each, for the facts script, the plan, the transaction and cloud-init.
"""

from __future__ import annotations

import posixpath

STATE_DIR = "/var/lib/hardened-ecs"
MAIN_CONFIG = "/etc/ssh/sshd_config"
DROPIN_DIR = "/etc/ssh/sshd_config.d"

# Beside each file it replaces: the staged candidate, and the backup the rollback restores
# (hard links). One definition: scripts/txn.sh gets both in its header (transaction.py).
CANDIDATE_SUFFIX = ".hardened-ecs-new"
BACKUP_SUFFIX = ".hardened-ecs-old"


def staged_path(path: str) -> str:
    """Where a candidate waits beside its target (same filesystem: the rename is atomic)."""
    head, tail = posixpath.split(path)
    return posixpath.join(head, f".{tail}{CANDIDATE_SUFFIX}")
