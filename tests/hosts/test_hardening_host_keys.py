"""Proof (issue 2), `python -m hardening` against real OpenSSH hosts, run as an operator runs it
(the hosts and how they are judged: tests/hosts/hardening_case.py): the host key is
recorded, then checked.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ClientKeys, HostFactory
from tests.helpers.chroot_observe import host_cli, host_key_fingerprint, known_hosts_name
from tests.helpers.cli import cli_json, must
from tests.hosts.hardening_case import VARIANTS, Case
from tests.testhosts.chroot import LOOPBACK

pytestmark = pytest.mark.host


def test_host_key_is_recorded_then_checked(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = host_factory("bookworm")
    case = Case(VARIANTS[1], host, client_keys.ed25519, tmp_path / "known_hosts")
    fingerprint = host_key_fingerprint(host)
    name = known_hosts_name(host)
    entry = f"{name} {host.host_public_keys()['ssh-ed25519']}\n"

    unknown = must(case.cli("check", accept_new_host_key=False), 3)
    assert "unknown" in unknown.stdout and fingerprint in unknown.stdout
    assert not case.known_hosts.exists()

    must(case.cli("plan", accept_new_host_key=True))
    assert case.known_hosts.read_text() == entry
    # OpenSSH itself reads the entry and finds the same key.
    lookup = subprocess.run(
        ["ssh-keygen", "-l", "-F", name, "-f", str(case.known_hosts)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lookup.returncode == 0 and fingerprint in lookup.stdout, lookup

    # Later runs without the flag use the recorded key, and leave the file alone.
    report = cli_json(must(case.cli("apply", "--json", accept_new_host_key=False)))
    assert report["changed"] is True and report["host_key_fingerprint"] == fingerprint
    must(case.cli("check", user="ops", accept_new_host_key=False))
    assert case.known_hosts.read_text() == entry

    # A pinned fingerprint needs no known_hosts and writes none; a wrong one is refused.
    pinned = tmp_path / "pinned_known_hosts"
    must(
        host_cli(host, "check", key=case.key, known_hosts=pinned, host_key_fingerprint=fingerprint)
    )
    assert not pinned.exists()
    wrong = "SHA256:" + "A" * 43
    refused = must(
        host_cli(host, "check", key=case.key, known_hosts=pinned, host_key_fingerprint=wrong), 3
    )
    assert fingerprint in refused.stdout and wrong in refused.stdout

    # A different server on the same address: the recorded key is what is checked.
    port = host.port
    host.stop()
    impostor = host_factory("bookworm", port=port)
    log_from = len(impostor.syslog())
    for accept in (False, True):  # --accept-new-host-key never accepts a *changed* key
        changed = must(
            host_cli(
                impostor,
                "check",
                key=case.key,
                known_hosts=case.known_hosts,
                accept_new_host_key=accept,
            ),
            3,
        )
        assert "HOST KEY CHANGED" in changed.stdout, shlex.join(map(str, changed.argv))
    assert case.known_hosts.read_text() == entry
    # The connections arrived, and ended before any authentication was attempted.
    log = impostor.syslog()[log_from:]
    assert f"by {LOOPBACK} port" in log, log
    assert "publickey" not in log and "authenticating user" not in log, log
