"""Hostile hosts (issue 15, part 2): what a host sends back is data, bounded and defanged.

A real test host gets an `sshd` wrapper in /usr/local/sbin (first on the facts script's PATH)
that misbehaves only when asked for the admin user's `sshd -T`, as a compromised or broken host
could: escape sequences, a flood, a trickle. The real sshd keeps serving logins. Each case is
bounded in size and time by the wrapper itself and by the CLI flags it runs with.
"""

from __future__ import annotations

import json
import resource
from pathlib import Path

import pytest

from tests.conftest import ClientKeys, HostFactory
from tests.test_faults import cli_for, run_cli
from tests.testhost import TestHost

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
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = host_factory("bookworm")
    cli = cli_for(host, client_keys.ed25519, tmp_path)
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


def test_a_hostile_value_in_the_plan_table_is_shown_as_text(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = host_factory("bookworm")
    cli = cli_for(host, client_keys.ed25519, tmp_path)
    _hostile(host, TABLE)
    out = cli.run("plan")
    assert out.code == 0, out
    assert "MaxAuthTries" in out.stdout, out
    assert _no_controls(out.stdout) == [], out
    assert "6\\x1b]0;pwned\\x07" in out.stdout, out


def test_a_flood_from_the_host_is_cut_off_with_memory_flat(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = host_factory("bookworm")
    cli = cli_for(host, client_keys.ed25519, tmp_path)
    _hostile(host, FLOOD)
    out = cli.run("check")
    assert out.code == 3, out
    assert "sent more than 16 MiB for one command" in out.stdout, out
    assert len(out.stdout) + len(out.stderr) < 10_000, f"{len(out.stdout)} bytes printed"
    # The largest child this test process has waited for (the CLI) stayed small.
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert peak_mib < 300, f"the CLI grew to {peak_mib:.0f} MiB"


def test_a_trickling_host_is_given_up_on_after_the_total_command_timeout(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> None:
    host = host_factory("bookworm")
    cli = cli_for(host, client_keys.ed25519, tmp_path)
    _hostile(host, TRICKLE)
    # The subprocess timeout only stops a hung test; the CLI must end by itself well before.
    argv = cli.argv("check", "--command-timeout", "30")
    out = run_cli(argv, timeout=240)
    assert out.code == 3, out
    assert "did not finish within 30s in total" in out.stdout, out
