"""The naive floor: one paramiko connection, the drop-in written and sshd reloaded, no checks.

No validation, no rollback, no proof that anyone can still log in: the least any tool could
do over SSH, for the latency benchmark. Unchanged file: no reload. The host key is still checked
against known_hosts (the same file the other peers get): checking costs no round trip.

    python -m bench.peers.naive HOST KEYFILE KNOWN_HOSTS
"""

from __future__ import annotations

import base64
import json
import sys
import time
from pathlib import Path

import paramiko

DEST = "/etc/ssh/sshd_config.d/10-bench-hardening.conf"


def main(host: str, keyfile: str, known_hosts: str) -> int:
    started = time.monotonic()
    body = base64.b64encode(Path(__file__).with_name("dropin.conf").read_bytes()).decode()
    # The host's own way: systemd's, else the init script (a host without systemd).
    reload = "if [ -d /run/systemd/system ]; then systemctl reload ssh; else service ssh reload; fi"
    command = (
        f"printf %s {body} | base64 -d > {DEST}.new && "
        f"if cmp -s {DEST}.new {DEST}; then rm -f {DEST}.new; echo unchanged; "
        f"else mv -f {DEST}.new {DEST} && {reload} && echo changed; fi"
    )
    client = paramiko.SSHClient()
    client.load_host_keys(known_hosts)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        host, username="root", key_filename=keyfile, look_for_keys=False, allow_agent=False
    )
    try:
        _, out, _ = client.exec_command(command, timeout=60)
        text = out.read().decode().strip()
        status = out.channel.recv_exit_status()
    finally:
        client.close()
    print(json.dumps({"result": text, "status": status, "seconds": time.monotonic() - started}))
    return 0 if status == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3]))
