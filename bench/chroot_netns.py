"""A chroot test host (no systemd) in a network namespace of its own, behind the delay line.

The other host kind of issue 22: tests/testhosts/chroot.py's host (sshd started by its init
script, reloaded without systemd), run from a helper process inside an `ip netns` namespace
made for it, so its 127.0.0.1 and port 22 are its own. sshd also listens on the address the
delay line gave it in that namespace (a drop-in, then `service ssh reload`), and on nothing
else. The helper keeps the host until its stdin closes, then stops it.

    ip netns exec NS python -m bench.chroot_netns SUITE ADDRESS PUBKEY   (the helper)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.delayline import DelayLine

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "hecsl-h"  # namespaces for hosts: hecsl-h<line>x<n>, apart from the client's hecsl-c


class NetnsChrootHost:
    """Parent side: the namespace, the helper process and the known_hosts lines."""

    def __init__(self, line: DelayLine, suite: str, public_key: str, n: int) -> None:
        self.line, self.suite, self.public_key = line, suite, public_key
        self.netns = f"{PREFIX}{line.index}x{n}"
        self.address = ""
        self.host_keys: list[str] = []
        self._helper: subprocess.Popen[str] | None = None

    def start(self) -> str:
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "add", self.netns], check=True)
        subprocess.run(["ip", "-n", self.netns, "link", "set", "lo", "up"], check=True)
        self.address = self.line.attach(self.netns)
        argv = ["ip", "netns", "exec", self.netns, sys.executable, "-m", "bench.chroot_netns"]
        self._helper = subprocess.Popen(
            [*argv, self.suite, self.address, self.public_key],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
        )
        assert self._helper.stdout is not None
        first = self._helper.stdout.readline()
        if not first:
            self.stop()
            raise RuntimeError(f"the chroot host in {self.netns} did not start (its stderr above)")
        self.host_keys = json.loads(first)["host_keys"]
        return self.address

    def known_hosts(self, path: Path) -> Path:
        path.write_text("".join(f"{self.address} {k}\n" for k in self.host_keys))
        return path

    def stop(self) -> None:
        if self._helper is not None:
            assert self._helper.stdin is not None
            self._helper.stdin.close()  # the helper stops the host and exits
            self._helper.wait(timeout=120)
            self._helper = None
        if self.address:
            self.line.detach(self.address)
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True, check=False)


def _helper(suite: str, address: str, public_key: str) -> int:
    from tests.testhosts.chroot import TestHost

    host = TestHost(suite, port=22, authorized_keys=[public_key])
    host.start()
    try:
        conf = "/etc/ssh/sshd_config.d/11-bench-listen.conf"
        host.run(f"echo 'ListenAddress {address}' > {conf}", check=True)
        host.reload()
        print(json.dumps({"host_keys": list(host.host_public_keys().values())}), flush=True)
        sys.stdin.read()
    finally:
        host.stop()
    return 0


if __name__ == "__main__":
    sys.exit(_helper(sys.argv[1], sys.argv[2], sys.argv[3]))
