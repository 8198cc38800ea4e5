"""Record `facts.sh` output on the cached pristine Debian roots (run as root, from the repo root).

    venv/bin/python -m tests.facts.record_debian

Each pristine root (/var/cache/hardened-ecs/rootfs/SUITE) is copied to a temporary directory
(the cache is never modified), given a cloud-init style drop-in (`50-cloud-init.conf` with
`PasswordAuthentication yes`, as a fresh cloud image has), and the facts script runs inside
with `chroot COPY /bin/sh -s`. No sshd runs: `sshd -T` only reads the configuration. The copy
is removed afterwards. Output goes to tests/facts/debian-NN.txt.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from hardening.host.facts import facts_script

ROOTFS_CACHE = Path("/var/cache/hardened-ecs/rootfs")
SUITES = {"bullseye": "debian-11", "bookworm": "debian-12", "trixie": "debian-13"}
OUT_DIR = Path(__file__).resolve().parent
CLOUD_INIT_DROPIN = "PasswordAuthentication yes\n"


def record(suite: str) -> str:
    pristine = ROOTFS_CACHE / suite
    if not pristine.is_dir():
        raise SystemExit(f"no pristine root for {suite} at {pristine}")
    with tempfile.TemporaryDirectory(prefix=f"facts-{suite}-") as tmp:
        root = Path(tmp) / "root"
        subprocess.run(["cp", "-a", str(pristine), str(root)], check=True)
        dropin = root / "etc/ssh/sshd_config.d/50-cloud-init.conf"
        dropin.write_text(CLOUD_INIT_DROPIN)
        dropin.chmod(0o600)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SSH_")}
        env["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin"
        result = subprocess.run(
            ["chroot", str(root), "/bin/sh", "-s"],
            input=facts_script("ops"),
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if result.returncode != 0 or "@@ end" not in result.stdout:
            raise SystemExit(f"facts script failed on {suite}: {result.stderr}")
        shutil.rmtree(root)
    header = (
        f"# Recorded: hardening/host/scripts/facts.sh run in a copy of the pristine Debian {suite} "
        "root (chroot, no systemd, sshd not running), plus 50-cloud-init.conf "
        "(PasswordAuthentication yes). Regenerate: python -m tests.facts.record_debian\n"
    )
    return header + result.stdout


def main(argv: list[str]) -> None:
    for suite in argv or list(SUITES):
        text = record(suite)
        (OUT_DIR / f"{SUITES[suite]}.txt").write_text(text)
        print(f"{suite}: {len(text)} characters", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
