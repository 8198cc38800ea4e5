"""RHEL 8 / Alibaba Cloud Linux 3: the system-wide crypto policy reaches sshd as -o options on
its command line, which beat sshd_config. The plan must see that and opt out."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from hardening.host.facts import HostFacts, parse_facts
from hardening.model.client import CLIENT_ALGORITHMS
from hardening.model.desired import Request
from hardening.planning.plan import SYSCONFIG_SSHD, cmdline_overrides, make_plan

ALINUX = Path(__file__).resolve().parents[1] / "facts" / "alinux-3.txt"
POLICY_CMDLINE = (
    "/usr/sbin/sshd -D -oCiphers=aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes256-ctr"
    " -oMACs=hmac-sha2-256-etm@openssh.com,hmac-sha1 -oGSSAPIKexAlgorithms=gss-curve25519-sha256-"
    " -oKexAlgorithms=curve25519-sha256,ecdh-sha2-nistp256"
    " -oHostKeyAlgorithms=ssh-ed25519,rsa-sha2-256"
)
SYSCONFIG = (
    "# Configuration file for the sshd service.\n"
    "# Uncomment and set CRYPTO_POLICY= to an empty value to opt out of the system-wide policy.\n"
    "# CRYPTO_POLICY=\n"
)


def _facts(cmdline: str, sysconfig: str | None) -> HostFacts:
    base = parse_facts(ALINUX.read_text())
    return dataclasses.replace(base, listener_cmdline=cmdline, sysconfig_sshd=sysconfig)


def test_cmdline_overrides_reads_both_spellings_of_o() -> None:
    found = cmdline_overrides(
        "sshd -D -oCiphers=aes128-ctr -o MACs=hmac-sha1 -oPort=22", {"ciphers", "macs"}
    )
    assert found == {"ciphers": "aes128-ctr", "macs": "hmac-sha1"}


def test_policy_on_cmdline_is_drift_and_opted_out_with_a_restart() -> None:
    plan = make_plan(Request(), _facts(POLICY_CMDLINE, SYSCONFIG), CLIENT_ALGORITHMS, "root")
    drift = {s.directive: s.effective for s in plan.drift}
    # What the daemon really uses is the command line, whatever sshd -T says about the files.
    assert drift["Ciphers"] == "aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes256-ctr"
    sysconfig = [f for f in plan.files if f.path == SYSCONFIG_SSHD]
    assert len(sysconfig) == 1 and sysconfig[0].content is not None
    active = [ln for ln in sysconfig[0].content.splitlines() if ln.startswith("CRYPTO_POLICY=")]
    assert active == ["CRYPTO_POLICY="]
    assert "# CRYPTO_POLICY=" in sysconfig[0].content  # the distribution's comment stays
    assert plan.restart_needed
    assert plan.service.reload == "systemctl restart sshd.service"


def test_already_opted_out_but_not_restarted_still_restarts() -> None:
    opted = SYSCONFIG + "CRYPTO_POLICY=\n"
    plan = make_plan(Request(), _facts(POLICY_CMDLINE, opted), CLIENT_ALGORITHMS, "root")
    assert not any(f.path == SYSCONFIG_SSHD for f in plan.files)
    assert plan.restart_needed and plan.changes


def test_no_cmdline_options_means_no_restart_and_no_sysconfig_change() -> None:
    plan = make_plan(Request(), _facts("/usr/sbin/sshd -D", SYSCONFIG), CLIENT_ALGORITHMS, "root")
    assert not plan.restart_needed
    assert not any(f.path == SYSCONFIG_SSHD for f in plan.files)
    assert plan.service.reload == "systemctl reload sshd.service"


def test_cmdline_options_without_sysconfig_are_reported_not_guessed() -> None:
    plan = make_plan(Request(), _facts(POLICY_CMDLINE, None), CLIENT_ALGORITHMS, "root")
    assert not plan.restart_needed
    assert any("command line" in note for note in plan.notes)
    assert "Ciphers" in {s.directive for s in plan.drift}
