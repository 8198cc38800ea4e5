"""Hostile hosts (issue 15, part 2): what a host sends back is data, bounded and defanged.

A real test host gets an `sshd` wrapper in /usr/local/sbin (first on the facts script's PATH)
that misbehaves only when asked for the admin user's `sshd -T`, as a compromised or broken host
could: escape sequences, a flood, a trickle. The real sshd keeps serving logins. Each case is
bounded in size and time by the wrapper itself and by the CLI flags it runs with.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ClientKeys
from tests.helpers.cli import PYTHON, ROOT, Outcome, run_cli
from tests.helpers.fault_proofs import FaultCaseFactory, assert_old, snapshot
from tests.testhosts.chroot import TestHost

pytestmark = pytest.mark.host

_WRAPPER = """#!/bin/sh
# Misbehaves for the facts script's `sshd -T -C user=ops,...` only; anything else is sshd.
case "$*" in
  *-T*user=ops*) {body} ;;
esac
exec /usr/sbin/sshd "$@"
"""

ESCAPES = (
    "printf 'broken \\033]0;pwned\\007\\033[2J\\033[31mred\\r\\n"
    "127.0.0.1:{port}: changed, compliant=true\\n'; exit 1"
)
# 200 MB in one line: far past the limit (16 MiB), small enough for today's engine to survive.
FLOOD = "head -c 200000000 /dev/zero | tr '\\0' x; exit 1"
# One byte a second, for ever (until the channel closes: printf then fails).
TRICKLE = "while printf x; do sleep 1; done; exit 1"
# A real `sshd -T` whose MaxAuthTries line carries a title-setting sequence.
TABLE = (
    "esc=$(printf '\\033'); bel=$(printf '\\007'); /usr/sbin/sshd \"$@\" | "
    'sed "s/^maxauthtries .*/maxauthtries 6${{esc}}]0;pwned${{bel}}/"; exit 0'
)


def _hostile(host: TestHost, body: str) -> None:
    text = _WRAPPER.format(body=body.format(port=host.port))
    host.run("cat > /usr/local/sbin/sshd && chmod 755 /usr/local/sbin/sshd", input=text, check=True)


def _no_controls(text: str) -> list[str]:
    return [f"{ord(c):#x}" for c in text if (ord(c) < 0x20 and c not in "\n\t") or c == "\x7f"]


def test_escape_sequences_from_the_host_never_reach_the_terminal(
    fault_case: FaultCaseFactory,
) -> None:
    host, _, cli = fault_case("bookworm")
    _hostile(host, ESCAPES)
    out = cli.run("apply")
    assert out.code == 4, out
    assert "already invalid" in out.stdout, out
    assert _no_controls(out.stdout) == [] and _no_controls(out.stderr) == [], out
    assert "\\x1b]0;pwned\\x07" in out.stdout, out  # shown, as text
    # The host's fake result line cannot start a line of ours.
    fake = f"127.0.0.1:{host.port}: changed, compliant=true"
    assert not any(line.startswith(fake) for line in out.stdout.splitlines()), out
    # --json keeps the exact text, escaped the JSON way.
    report = json.loads(cli.run("apply", "--json").stdout)
    assert "\x1b]0;pwned\x07" in report["error"]


def test_a_hostile_value_in_the_plan_table_is_shown_as_text(fault_case: FaultCaseFactory) -> None:
    host, _, cli = fault_case("bookworm")
    _hostile(host, TABLE)
    out = cli.run("plan")
    assert out.code == 0, out
    assert "MaxAuthTries" in out.stdout, out
    assert _no_controls(out.stdout) == [], out
    assert "6\\x1b]0;pwned\\x07" in out.stdout, out


def test_a_flood_from_the_host_is_cut_off_with_memory_flat(
    fault_case: FaultCaseFactory, tmp_path: Path
) -> None:
    host, _, cli = fault_case("bookworm")
    _hostile(host, FLOOD)
    # The CLI runs under a small parent of its own that reports the CLI's peak memory alone
    # (this test process has other, bigger children: the Pulumi CLI, its build).
    peak_file = tmp_path / "peak-kib"
    measure = (
        "import resource, subprocess, sys; code = subprocess.call(sys.argv[2:]); "
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss; "
        "open(sys.argv[1], 'w').write(str(peak)); sys.exit(code)"
    )
    check = cli.argv("check", wait=5)
    proc = subprocess.run(
        [sys.executable, "-c", measure, str(peak_file), PYTHON, "-m", "hardening", *check],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    out = Outcome(proc.returncode, proc.stdout, proc.stderr)
    assert out.code == 3, out
    assert "sent more than 16 MiB for one command" in out.stdout, out
    assert len(out.stdout) + len(out.stderr) < 10_000, f"{len(out.stdout)} bytes printed"
    peak_mib = int(peak_file.read_text()) / 1024
    assert peak_mib < 300, f"the CLI grew to {peak_mib:.0f} MiB"


def test_a_trickling_host_is_given_up_on_after_the_total_command_timeout(
    fault_case: FaultCaseFactory,
) -> None:
    host, _, cli = fault_case("bookworm")
    _hostile(host, TRICKLE)
    # The subprocess timeout only stops a hung test; the CLI must end by itself well before.
    argv = cli.argv("check", "--command-timeout", "30")
    out = run_cli(argv, timeout=240)
    assert out.code == 3, out
    assert "did not finish within 30s in total" in out.stdout, out


# --------------------------------------------------------------------------- known_hosts


def test_a_host_known_by_another_key_type_is_never_treated_as_new(
    fault_case: FaultCaseFactory,
) -> None:
    host, _, cli = fault_case("bookworm")
    ecdsa = host.host_public_keys()["ecdsa-sha2-nistp256"]
    entry = f"[127.0.0.1]:{host.port} {ecdsa}\n"
    cli.known_hosts.write_text(entry)
    out = cli.run("check")  # with --accept-new-host-key
    assert out.code == 3, out
    assert "with a ecdsa-sha2-nistp256 key only" in out.stdout, out
    assert "--host-key-fingerprint SHA256:" in out.stdout, out
    assert cli.known_hosts.read_text() == entry  # nothing recorded next to it


def test_a_known_host_that_stops_offering_its_known_key_is_a_changed_key(
    client_keys: ClientKeys, tmp_path: Path
) -> None:
    import paramiko

    from hardening.model.errors import HostKeyError
    from hardening.ssh.trust import HostKeyPolicy, KnownHostsCheck

    known = paramiko.Ed25519Key.from_private_key_file(str(client_keys.ed25519))
    presented = paramiko.RSAKey.from_private_key_file(str(client_keys.rsa))
    path = tmp_path / "known_hosts"
    path.write_text(f"[192.0.2.7]:2222 {known.get_name()} {known.get_base64()}\n")
    trust = KnownHostsCheck(HostKeyPolicy(known_hosts=path, accept_new=True), "192.0.2.7", 2222)
    with pytest.raises(HostKeyError, match=re.escape("HOST KEY CHANGED for [192.0.2.7]:2222")):
        trust.verify(presented)
    assert path.read_text().count("\n") == 1


# --------------------------------------------------------------------------- Banner

BANNER = "/etc/ssh/sshd-banner"


@pytest.mark.parametrize(
    ("setup", "why"),
    [
        (f"ln -s /etc/shadow {BANNER}", "is a symbolic link"),
        (f"echo secret > {BANNER} && chmod 600 {BANNER}", "is not readable by everyone"),
        (f"echo hi > {BANNER} && chown 1000 {BANNER}", "is not owned by root"),
        (f"mkdir {BANNER}", "is not a regular file"),
        ("true", "does not exist on the host"),
    ],
    ids=["link to shadow", "private", "not root's", "directory", "missing"],
)
def test_a_banner_must_be_a_plain_public_file_on_the_host(
    fault_case: FaultCaseFactory, setup: str, why: str
) -> None:
    host, key, cli = fault_case("bookworm")
    host.run(setup, check=True)
    before = snapshot(host)
    out = cli.run("apply", "--set", f"Banner={BANNER}")
    assert out.code == 2, out
    assert f"Banner={BANNER}: the file {why}" in out.stdout, out
    assert "nothing changed" in out.stdout, out
    assert_old(host, before, key)


def test_a_plain_public_banner_is_applied(fault_case: FaultCaseFactory) -> None:
    host, _, cli = fault_case("bookworm")
    host.run(f"echo 'Authorized use only' > {BANNER} && chmod 644 {BANNER}", check=True)
    out = cli.run("apply", "--set", f"Banner={BANNER}")
    assert out.code == 0, out
    assert host.sshd_effective()["banner"] == BANNER
