"""The systemd test-host machinery itself (tests/testhosts/): what a host is, that it listens
only on its own address, and that nothing outlives it — not even when its test process is
SIGKILLed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ClientKeys
from tests.testhosts.client import try_login
from tests.testhosts.fixtures import SystemdFactory
from tests.testhosts.machine import CGROUP_NAME, CGROUP_ROOTS, PROPAGATE_DIR, reap_stale
from tests.testhosts.procs import mounts_under, proc_stat

ROOT = Path(__file__).resolve().parents[2]


def _leftovers(name: str, state: Path | None) -> list[str]:
    left = [str(r / CGROUP_NAME / name) for r in CGROUP_ROOTS if (r / CGROUP_NAME / name).exists()]
    if (PROPAGATE_DIR / name).exists():
        left.append(str(PROPAGATE_DIR / name))
    if state is not None and state.exists():
        left.append(str(state))
    links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
    left += [ln.split()[0] for ln in links.splitlines() if ln.startswith(f"vb-{name}")]
    return left


def test_a_host_is_systemd_in_its_own_cgroup_and_network_reachable_only_at_its_address(
    systemd_factory: SystemdFactory, client_keys: ClientKeys
) -> None:
    host = systemd_factory("trixie")
    assert host.run("cat /proc/1/comm").stdout.strip() == "systemd"
    assert host.run("systemctl is-system-running").stdout.strip() == "running"
    own = CGROUP_ROOTS[0] / CGROUP_NAME / host.name
    assert host.init_pid is not None
    assert str(host.init_pid) in (own / "payload/init.scope/cgroup.procs").read_text()
    # Its own network namespace: one address, on this process's bridge.
    assert os.readlink(f"/proc/{host.init_pid}/ns/net") != os.readlink("/proc/self/ns/net")
    addrs = host.run("ip -4 -o addr show scope global").stdout
    assert f"{host.address}/24" in addrs and len(addrs.splitlines()) == 1, addrs
    assert host.address.startswith("10.231.") and host.bridge.name.startswith("hecsb")
    assert try_login(host.address, "root", client_keys.ed25519)
    # Reached through the bridge only: the machine forwards nothing (no --port).
    st = proc_stat(host.init_pid)
    assert st is not None
    nspawn = Path(f"/proc/{st.ppid}/cmdline").read_text().split("\0")
    assert "systemd-nspawn" in nspawn[0] and not any(a.startswith("--port") for a in nspawn)
    route = subprocess.run(["ip", "route", "get", host.address], capture_output=True, text=True)
    assert f"dev {host.bridge.name}" in route.stdout, route.stdout
    # A probe address of its own on the bridge: a login meant to fail never spends ours.
    probe = host.bridge.probe_address()
    assert not try_login(host.address, "root", client_keys.stranger, source=probe)
    assert f"user root {probe} port" in host.journal("-u", "ssh.service")


def test_stop_leaves_nothing_and_reboot_brings_the_same_host_back(
    systemd_factory: SystemdFactory, client_keys: ClientKeys
) -> None:
    host = systemd_factory("trixie")
    host.run("echo kept > /root/mark", check=True)
    first = host.init_pid
    host.reboot()
    assert host.init_pid != first and host.boots == 2
    assert host.run("cat /root/mark").stdout.strip() == "kept"
    assert try_login(host.address, "root", client_keys.ed25519)
    name, state = host.name, host.state_dir
    host.stop()
    assert _leftovers(name, state) == []
    assert state is not None and mounts_under(state) == []


_HOLD = """
import sys, time
from tests.testhosts.machine import SystemdHost
host = SystemdHost("trixie").start()
print(host.name, host.init_pid, host.state_dir, host.bridge.name, flush=True)
time.sleep(600)
"""


def test_a_host_whose_test_process_was_killed_is_powered_off_and_reaped(
    systemd_factory: SystemdFactory,
) -> None:
    systemd_factory  # noqa: B018 - for its skip and markers: this test starts its own process
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLD], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    name, pid, state, bridge = proc.stdout.readline().split()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    # nspawn got SIGTERM (parent death): a clean poweroff of the container.
    deadline = time.monotonic() + 30
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Path(f"/proc/{pid}").exists(), "the container outlived its test process"
    # What it left (state, cgroups, its bridge) goes with the next reap.
    reap_stale()
    assert _leftovers(name, Path(state)) == []
    gone = subprocess.run(["ip", "link", "show", bridge], capture_output=True, text=True)
    assert gone.returncode != 0, f"{bridge} of a dead process is still there"
