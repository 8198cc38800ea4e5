"""Issue 14's proof on a real first boot: closed from the first moment, host key known before
first contact, rotated right after the first apply, any operator key.

Each case boots a Debian trixie with systemd and Debian's cloud-init (tests/testhosts/) from a
NoCloud seed holding exactly what the program puts in the user data (components/cloudinit.py,
with a boot host key from hardening/change/rekey.py as the BootHostKey resource makes it). Root
holds the operator's key too, as Alibaba's key pair would give it: a root login that got through
would be a real one. While the host boots and `pulumi up`'s hardening step (the SshdHardening
provider's create, then a check and an update, as the engine calls them) runs, a prober makes
one SSH connection every fraction of a second from its own address and records what it is
offered. What counts is what the host presents, never the provider's own report alone.
"""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from components.cloudinit import BOOT_DROPIN, admin_user_data
from components.sshd_hardening.provider import SshdHardeningProvider
from hardening.change.rekey import known_hosts_line, new_host_key, openssh_fingerprint
from hardening.model.desired import Request
from hardening.ops import engine
from hardening.ssh.keys import load_private_key
from hardening.ssh.transport import Target
from hardening.ssh.trust import HostKeyPolicy
from tests.conftest import ClientKeys
from tests.helpers.firstboot_probe import Prober, Round, SourcePool, probe_once
from tests.helpers.systemd_observe import assert_healthy, poll
from tests.testhosts.client import try_login
from tests.testhosts.fixtures import unavailable_reason
from tests.testhosts.gate import skip_or_fail
from tests.testhosts.machine import SystemdHost
from tests.testhosts.rootfs import Image

ADMIN = "ops"
IMAGE = Image("trixie", cloud_init=True)


def _props(host: str, key_text: str, boot_fingerprint: str) -> dict[str, Any]:
    """The inputs __main__.py gives every server's SshdHardening."""
    return {
        "host": host,
        "port": 22,
        "bootstrapUser": ADMIN,
        "adminUser": ADMIN,
        "privateKey": key_text,
        "profile": "baseline",
        "overrides": {},
        "expectedHostKeyFingerprint": boot_fingerprint,
        "wait": 180,
        "adoptAdminUser": False,
        "rotateHostKey": True,
    }


def _presented(host: SystemdHost, pool: SourcePool, key: Path) -> str:
    seen = probe_once(host.address, pool.take(), load_private_key(path=str(key)))
    assert seen.answered and seen.fingerprint, seen
    return seen.fingerprint


def _on_disk(host: SystemdHost) -> str:
    return openssh_fingerprint(host.run("cat /etc/ssh/ssh_host_ed25519_key.pub", check=True).stdout)


def _assert_closed_before_sshd_first_started(host: SystemdHost) -> None:
    """The order the proof rests on, from the host's own records: cloud-init's network stage
    (write-files, ssh) finished before systemd first started sshd's unit."""
    out = host.run(
        "journalctl -b _PID=1 -o json --output-fields=UNIT,JOB_TYPE,JOB_RESULT", check=True
    ).stdout
    events = [json.loads(line) for line in out.splitlines()]
    done = [
        i
        for i, e in enumerate(events)
        if e.get("UNIT") == "cloud-init-network.service" and e.get("JOB_RESULT") == "done"
    ]
    ssh = [
        i
        for i, e in enumerate(events)
        if e.get("UNIT") in ("ssh.service", "ssh.socket") and e.get("JOB_TYPE") == "start"
    ]
    assert done and ssh and done[0] < ssh[0], events
    log = host.run("cat /var/log/cloud-init.log", check=True).stdout
    for module in ("bootcmd", "write-files", "users-groups", "ssh"):
        assert f"finish: init-network/config-{module}: SUCCESS" in log, module


def _after_cloud_config(host: SystemdHost) -> str:
    """The journal cursor where cloud-init's config stage finished.

    That stage's set-passwords restarts ssh.service; under socket activation a probe may just
    have started it, and the restart kills that start ("Failed with result 'signal'", then it
    comes up). That is the image's own boot: the hardening waits for cloud-init to finish
    before it changes anything, so sshd's health is judged from here on.
    """
    out = host.run("journalctl -b -u cloud-config.service -o json", check=True).stdout
    for line in out.splitlines():
        entry = json.loads(line)
        if str(entry.get("MESSAGE", "")).startswith("Finished cloud-config.service"):
            return str(entry["__CURSOR"])
    raise AssertionError(f"cloud-config.service never finished:\n{out[-2000:]}")


def _ssh_strict(
    host: SystemdHost, key: Path, known_hosts: Path
) -> subprocess.CompletedProcess[str]:
    """The system ssh as an operator runs `sshCommand`: host key checked against known_hosts."""
    options = [
        *("BatchMode=yes", "IdentitiesOnly=yes", "IdentityAgent=none"),
        *("StrictHostKeyChecking=yes", f"UserKnownHostsFile={known_hosts}"),
        "GlobalKnownHostsFile=/dev/null",
    ]
    args = ["ssh", "-F", "/dev/null", "-i", str(key)]
    for option in options:
        args += ["-o", option]
    return subprocess.run(
        [*args, f"{ADMIN}@{host.address}", "true"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _check(host: SystemdHost, key: Path, pin: str) -> engine.Report:
    target = Target(
        host.address,
        22,
        ADMIN,
        load_private_key(path=str(key)),
        HostKeyPolicy(pinned_fingerprint=pin),
    )
    return engine.check(target, Request(admin_user=ADMIN), engine.Options(wait=10))


# operator key type, SystemdHost variant: Debian's ssh.service; Ubuntu's socket activation
# (ssh.socket owns the port); an sshd_config without Include (RHEL family: bootcmd's lines).
CASES = {
    "ed25519": ("ed25519", {}),
    "rsa": ("rsa", {}),
    "ed25519-ssh.socket": ("ed25519", {"socket_activated": True}),
    "ed25519-no-Include": ("ed25519", {"include": False}),
}


@pytest.mark.host
@pytest.mark.systemd
@pytest.mark.parametrize("case", list(CASES))
def test_first_boot_is_closed_pinned_and_rekeyed(
    client_keys: ClientKeys, tmp_path: Path, case: str
) -> None:
    reason = unavailable_reason()
    if reason is not None:
        skip_or_fail(reason)
    if not IMAGE.path.is_dir():
        skip_or_fail(f"no rootfs cache for {IMAGE.name}: run `make testhosts`")
    kind, variant = CASES[case]
    key = client_keys.ed25519 if kind == "ed25519" else client_keys.rsa
    public = Path(f"{key}.pub").read_text()
    boot = new_host_key()
    user_data = admin_user_data(ADMIN, public, boot.private, boot.public)

    host = SystemdHost(
        IMAGE, authorized_keys=[public], user_data=user_data, boot_timeout=180, **variant
    )
    pool = SourcePool(host.bridge)
    prober = Prober(host.address, pool, key)
    provider = SshdHardeningProvider()
    inputs = provider.check({}, _props(host.address, key.read_text(), boot.fingerprint)).inputs
    created: dict[str, Any] = {}

    def pulumi_up_create() -> None:
        try:
            created["result"] = provider.create(inputs)
        except Exception as exc:  # reported by the main thread
            created["error"] = exc

    try:
        prober.start()
        # `pulumi up` starts the hardening as soon as the instance exists: it retries until the
        # booting server lets the admin in, pinned to the boot key from its first attempt.
        up = threading.Thread(target=pulumi_up_create)
        up.start()
        host.start()
        up.join(timeout=600)
        rounds = prober.stop()
        assert not up.is_alive(), "the hardening's create never returned"
        assert "error" not in created, created.get("error")
        outs = created["result"].outs

        answered = [r for r in rounds if r.answered]
        assert answered, f"sshd never answered the prober: {rounds[-5:]}"
        print(f"prober: {len(rounds)} rounds, {len(answered)} answered by sshd")
        # The prober saw the window: rounds before sshd answered (booting) and after.
        assert not rounds[0].answered, rounds[0]
        let_in = [r for r in answered if r.root_in]
        assert not let_in, f"root was let in: {let_in}"
        offered = sorted({m for r in answered for m in r.methods})
        assert offered == ["publickey"], f"offered to a stranger: {offered}"
        assert all(r.methods for r in answered), [r for r in answered if not r.methods]

        # Pinned at first contact: the key the booted host presented is the boot key.
        new = outs["hostKeyFingerprint"]
        first_seen = answered[0].fingerprint
        assert first_seen == boot.fingerprint
        assert {r.fingerprint for r in answered} <= {boot.fingerprint, new}, _fps(answered)
        # Rotated: the host presents (and has on disk) the key the state records.
        assert new != boot.fingerprint
        assert _presented(host, pool, key) == new == _on_disk(host)
        assert openssh_fingerprint(outs["hostPublicKey"]) == new
        assert outs["compliant"] is True, outs
        # No private key in the outputs but the operator's own (a secret output).
        shown = json.dumps({k: v for k, v in outs.items() if k != "privateKey"})
        assert "PRIVATE KEY" not in shown and boot.private.splitlines()[1] not in shown

        # The old key opens nothing: pinned to it, the next step refuses the host.
        old = _check(host, key, boot.fingerprint)
        assert old.exit_code == 3 and "pinned" in (old.error or ""), old.as_dict()
        assert _check(host, key, new).exit_code == 0

        # refresh, then preview: no recurring diff; an update is pinned to the new key.
        refreshed = provider.read(created["result"].id, outs).outs
        assert refreshed is not None
        assert refreshed["hostKeyFingerprint"] == new and refreshed["compliant"] is True
        again = provider.check(outs, inputs).inputs
        assert provider.diff(created["result"].id, refreshed, again).changes is False
        changed = dict(again, overrides={"MaxAuthTries": "2"})
        updated = provider.update(created["result"].id, refreshed, changed).outs
        assert updated is not None
        assert updated["hostKeyFingerprint"] == new and updated["compliant"] is True
        assert updated["hostPublicKey"] == outs["hostPublicKey"]

        # `knownHostsLine` is what ssh needs to check the host from the first login; the boot
        # key's line is refused.
        fresh_line = tmp_path / "known_hosts"
        fresh_line.write_text(known_hosts_line(host.address, 22, outs["hostPublicKey"]) + "\n")
        strict = _ssh_strict(host, key, fresh_line)
        assert strict.returncode == 0, strict.stderr
        boot_line = tmp_path / "known_hosts.boot"
        boot_line.write_text(known_hosts_line(host.address, 22, boot.public) + "\n")
        refused = _ssh_strict(host, key, boot_line)
        assert refused.returncode != 0 and "Host key verification failed" in refused.stderr

        # The operator's key (this case's type) logs the admin in; root stays out.
        assert try_login(host.address, ADMIN, key)
        assert not try_login(host.address, "root", key, source=pool.take())
        _assert_closed_before_sshd_first_started(host)
        assert host.run(f"test -f {BOOT_DROPIN}").returncode == 0
        main = host.run("cat /etc/ssh/sshd_config", check=True).stdout
        if variant.get("include") is False:  # closed by bootcmd's lines in sshd_config itself
            assert "Include" not in main and "PermitRootLogin no" in main, main[:400]
        else:
            assert "hardened-ecs: closed from the first boot" not in main
        assert "status: done" in host.run("cloud-init status").stdout
        assert_healthy(host, _after_cloud_config(host))
    finally:
        prober.stop()
        host.stop()
        pool.close()


def _answered(rounds: list[Round]) -> int:
    return sum(1 for r in list(rounds) if r.answered)


def _fps(rounds: list[Round]) -> list[str | None]:
    return sorted({r.fingerprint for r in rounds}, key=str)


# What the program's user data held before issue 14: the admin user, root left to the image.
_OPEN_USER_DATA = """#cloud-config
users:
- name: ops
  lock_passwd: true
  sudo: ALL=(ALL) NOPASSWD:ALL
  ssh_authorized_keys: [{key}]
"""


@pytest.mark.host
@pytest.mark.systemd
def test_prober_sees_an_open_first_boot_and_create_refuses_a_host_without_its_boot_key(
    client_keys: ClientKeys,
) -> None:
    """The control: the same prober on a first boot whose user data does not close root sees
    root let in (so the proof above can fail); and a server that did not get its boot key
    from cloud-init (here: cloud-init made its own) fails the create with the way in."""
    reason = unavailable_reason()
    if reason is not None:
        skip_or_fail(reason)
    if not IMAGE.path.is_dir():
        skip_or_fail(f"no rootfs cache for {IMAGE.name}: run `make testhosts`")
    key = client_keys.ed25519
    public = Path(f"{key}.pub").read_text().strip()
    host = SystemdHost(
        IMAGE,
        authorized_keys=[public],
        user_data=_OPEN_USER_DATA.format(key=public),
        boot_timeout=180,
    )
    pool = SourcePool(host.bridge)
    prober = Prober(host.address, pool, key)
    boot = new_host_key()  # never given to the host
    provider = SshdHardeningProvider()
    inputs = provider.check({}, _props(host.address, key.read_text(), boot.fingerprint)).inputs
    inputs["wait"] = 15
    try:
        prober.start()
        host.start()
        # Booted: keep probing until the prober has met sshd a few times (bounded).
        poll("prober rounds answered by sshd", lambda: _answered(prober.rounds) >= 3, 60)
        rounds = prober.stop()
        assert any(r.root_in for r in rounds), [r for r in rounds if r.answered][:5]
        with pytest.raises(Exception, match="cloud-init did not run or failed") as failed:
            provider.create(inputs)
        message = str(failed.value)
        assert boot.fingerprint in message and "Cloud Assistant" in message, message
        assert "pinned" in message, message
        # Nothing was changed on the host: no drop-in of ours, no lock.
        assert host.run("ls /etc/ssh/sshd_config.d/").stdout.strip() in ("", "50-cloud-init.conf")
        assert host.run("test -e /var/lib/hardened-ecs/lock").returncode != 0
    finally:
        prober.stop()
        host.stop()
        pool.close()
