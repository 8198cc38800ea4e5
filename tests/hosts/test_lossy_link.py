"""Honest under loss (issue 12): over a slow link that drops packets, an apply still ends clean.

A systemd-booted host behind the benchmark's packet delay line (bench/delayline.py) at 100 ms
RTT with 5% of the packets dropped each way: TCP retransmits, so the apply must succeed, be
confirmed (no rollback pending on the host), and a no-op and a check after it must find nothing
to do. Every step is bounded by the CLI's own --wait and the runner's timeout.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.delayline import DelayLine
from bench.latency_scenarios import host_known_hosts
from tests.conftest import ClientKeys
from tests.helpers.systemd_observe import ADMIN, assert_new, lock_gone
from tests.testhosts.fixtures import SystemdFactory

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("kind", ["ed25519", "ecdsa", "rsa"])  # RSA's early request too
def test_apply_over_a_lossy_slow_link_ends_confirmed(
    systemd_factory: SystemdFactory, client_keys: ClientKeys, tmp_path: Path, kind: str
) -> None:
    host = systemd_factory("bookworm")
    key = getattr(client_keys, kind)
    assert host.init_pid is not None
    with DelayLine(251, rtt=0.1, loss=0.05) as line:
        address = line.attach(host.init_pid)
        kh = host_known_hosts(host, address, tmp_path / "known_hosts")

        def cli(action: str, user: str) -> dict[str, object]:
            argv = [sys.executable, "-m", "hardening", action, "--host", address, "--user", user]
            argv += ["--identity", str(key), "--known-hosts", str(kh), "--json", "--wait", "60"]
            proc = subprocess.run(
                line.command(argv), cwd=ROOT, capture_output=True, text=True, timeout=600
            )
            report: dict[str, object] = json.loads(proc.stdout)
            assert proc.returncode == report["exit_code"], proc.stderr
            return report

        fresh = cli("apply", "root")
        assert fresh["error"] is None and fresh["changed"] and fresh["compliant"], fresh
        again = cli("apply", ADMIN)
        assert again["error"] is None and not again["changed"] and again["compliant"], again
        check = cli("check", ADMIN)
        assert check["exit_code"] == 0 and check["compliant"], check
        assert line.dropped > 0, "the link dropped nothing: the test proved nothing"
    assert lock_gone(host)
    assert_new(host, key)
