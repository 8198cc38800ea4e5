"""The CLI meets its users' habits (issue 19, points 3 and 4): a mistyped port fails at once,
`--wait N` waits N, help that answers, `--version`, "did you mean", a live status line on a
terminal and plain text everywhere else, a fleet table that never cuts an error mid-word.

No test host is needed: the unreachable host is a loopback port that was just closed (so
connecting is refused), and the terminal is a pseudo-terminal.
"""

from __future__ import annotations

import errno
import os
import re
import socket
import subprocess
import tomllib
from collections.abc import Mapping
from pathlib import Path

import pytest

from hardening.front.fleet import ERROR_WIDTH, summary
from hardening.model.progress import plural
from hardening.ops.report import Report
from tests.helpers.cli import PYTHON, ROOT, run_cli

ESCAPE = "\x1b"
COLOUR = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed): connecting is refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


def _apply(port: int, key: Path, *extra: str) -> list[str]:
    return [
        "apply", "--host", "127.0.0.1", "--port", str(port), "--user", "root",
        "--identity", str(key), "--known-hosts", str(key.parent / "kh"), *extra,
    ]  # fmt: skip


def test_a_refused_port_fails_at_once_without_wait(closed_port: int, key: Path) -> None:
    out = run_cli(_apply(closed_port, key))
    assert out.code == 3, out
    # One attempt, no retry lines, and the way to wait named.
    assert "retrying" not in out.stderr, out
    assert (
        f"cannot reach root@127.0.0.1:{closed_port}: TCP connect failed: Connection refused "
        "(tried once: to wait for a booting host, give --wait SECONDS)"
    ) in out.stdout, out


def test_wait_n_waits_n_and_says_so_once_in_a_pipe(closed_port: int, key: Path) -> None:
    out = run_cli(_apply(closed_port, key, "--wait", "2"))
    assert out.code == 3, out
    said = re.search(
        r"within 2s \(--wait\): TCP connect failed: Connection refused "
        r"\((\d+) attempts in ([0-9.]+)s\)",
        out.stdout,
    )
    assert said, out
    attempts, seconds = int(said.group(1)), float(said.group(2))
    # The tool's own count: its last attempt was made at the deadline, not a backoff before.
    assert seconds >= 2.0 and attempts >= 3, out
    # In a pipe, the same wait is one line, not one per retry; and no escape code anywhere.
    retries = [line for line in out.stderr.splitlines() if "retrying" in line]
    assert len(retries) == 1, out
    assert retries[0].startswith(f"127.0.0.1:{closed_port}: TCP connect failed"), out
    assert ESCAPE not in out.stdout + out.stderr, out


def test_a_pipe_gets_no_escape_code_even_when_the_environment_forces_colour(
    closed_port: int, key: Path
) -> None:
    env = {**os.environ, "FORCE_COLOR": "1", "TTY_COMPATIBLE": "1", "TERM": "xterm-256color"}
    out = run_cli(_apply(closed_port, key, "--wait", "1"), env=env)
    assert out.code == 3 and "retrying" in out.stderr, out
    assert ESCAPE not in out.stdout + out.stderr, out


def test_help_has_examples_exit_codes_and_every_default() -> None:
    top = run_cli(["--help"])
    assert top.code == 0 and "examples:" in top.stdout and "exit codes:" in top.stdout, top
    text = run_cli(["apply", "--help"]).stdout
    flat = " ".join(text.split())  # argparse wraps help to the terminal's width
    for wanted in (
        "examples:",
        "exit codes:",
        "0 done / compliant",
        "3 cannot connect or log in",
        "SSH port (default 22)",
        "(fleet mode; default 10)",
        "unconfirmed change (default 120)",
        "in total (default 180)",
        "closed (default ops)",
        "(default ~/.ssh/known_hosts)",
        "(default: connect once and fail at once; wait 300s for cloud-init and a lock)",
        "minimal: PermitRootLogin no",
        "baseline: minimal plus AuthenticationMethods publickey",
        "(default baseline)",
        "one object for --host, an array of them (inventory order) for --inventory",
    ):
        assert wanted in flat, (wanted, text)


def test_version_is_the_projects() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    out = run_cli(["--version"])
    assert out.code == 0, out
    assert out.stdout.startswith(f"hardened-ecs {version} (python -m hardening; Python "), out


@pytest.mark.parametrize(
    ("argv", "usage", "hint"),
    [
        (["apply", "--prot", "1"], "usage: python -m hardening apply", "did you mean --port?"),
        (["check", "--idnetity", "k"], "usage: python -m hardening check", "--identity?"),
        (["aply"], "usage: python -m hardening ", "did you mean 'apply'?"),
        (["plan", "--profile", "basline"], "usage: python -m hardening plan", "'baseline'?"),
    ],
)
def test_a_typo_gets_did_you_mean_and_its_own_usage(argv: list[str], usage: str, hint: str) -> None:
    out = run_cli(argv)
    assert out.code == 2, out
    assert usage in out.stderr and hint in out.stderr, out


def test_an_unknown_flag_without_a_near_one_points_at_help() -> None:
    out = run_cli(["apply", "--frobnicate"])
    assert out.code == 2, out
    assert "unrecognized argument: --frobnicate; see --help" in out.stderr, out


def _in_a_terminal(argv: list[str], env: Mapping[str, str]) -> str:
    """Run the CLI with stdout and stderr on a pseudo-terminal; all it wrote there."""
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [PYTHON, "-m", "hardening", *argv],
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200", "LINES": "40", **env},
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError as exc:  # EIO: the terminal's last writer has gone
            if exc.errno != errno.EIO:
                raise
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    proc.wait(timeout=60)
    return b"".join(chunks).decode(errors="replace")


def test_a_terminal_shows_the_wait_as_one_live_coloured_line(closed_port: int, key: Path) -> None:
    shown = _in_a_terminal(_apply(closed_port, key, "--wait", "2"), {"TERM": "xterm-256color"})
    # The live line: redrawn in place (cursor moves), the wait in it, never a printed retry.
    assert "working · " in shown and "retrying" in shown, shown
    assert "\x1b[2K" in shown or "\x1b[1A" in shown, shown
    assert COLOUR.search(shown), shown  # the failed result in red
    assert "apply FAILED (exit 3)" in shown, shown


def test_no_color_keeps_the_live_line_without_colour(closed_port: int, key: Path) -> None:
    shown = _in_a_terminal(
        _apply(closed_port, key, "--wait", "2"), {"TERM": "xterm-256color", "NO_COLOR": "1"}
    )
    assert "working · " in shown, shown
    assert not COLOUR.search(shown), shown


def test_a_dumb_terminal_gets_plain_lines(closed_port: int, key: Path) -> None:
    shown = _in_a_terminal(_apply(closed_port, key, "--wait", "2"), {"TERM": "dumb"})
    assert ESCAPE not in shown, shown
    assert shown.count("retrying") == 1, shown


def test_json_has_no_progress_and_no_escape_even_on_a_terminal(closed_port: int, key: Path) -> None:
    shown = _in_a_terminal(_apply(closed_port, key, "--json"), {"TERM": "xterm-256color"})
    assert ESCAPE not in shown, shown
    assert '"exit_code": 3' in shown, shown


def test_the_fleet_table_wraps_a_long_error_between_words() -> None:
    error = (
        "cannot reach root@web-frontend-01.example.com:22 within 300s (--wait): SSH handshake "
        "failed: Error reading SSH protocol banner[Errno 104] Connection reset by peer "
        "(37 attempts in 300.4s)"
    )
    reports = [
        Report("web-frontend-01.example.com", 22, "apply", error=error, exit_code=3),
        Report("10.0.0.2", 2222, "apply", changed=True, compliant=True, name="db"),
    ]
    table = summary(reports).splitlines()
    column = table[0].index("error")
    pieces = [line[column:].strip() for line in table[1:] if line[column:].strip()]
    # Every word whole, in order, nothing dropped; no piece wider than the column.
    assert " ".join(pieces) == error, table
    assert all(len(p) <= ERROR_WIDTH for p in pieces), table
    assert table[1].startswith("web-frontend-01.example.com:22  3 "), table
    assert any(re.match(r"db \(10\.0\.0\.2:2222\)\s+0\s", line) for line in table), table


def free_ports(n: int) -> list[int]:
    """Ports nothing listens on: a connect is refused at once."""
    ports = []
    for _ in range(n):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(int(s.getsockname()[1]))
    return ports


def test_an_inventory_entry_is_named_in_every_line(tmp_path: Path, key: Path) -> None:
    ports = free_ports(2)
    inventory = tmp_path / "hosts.yaml"
    inventory.write_text(
        f"defaults: {{user: root, identity: {key}, known_hosts: {tmp_path / 'kh'}}}\n"
        "hosts:\n"
        f"  - {{name: web, host: 127.0.0.1, port: {ports[0]}}}\n"
        f"  - {{name: db, host: 127.0.0.1, port: {ports[1]}}}\n"
    )
    out = run_cli(["check", "--inventory", str(inventory), "--wait", "1"])
    assert out.code == 3, out
    for name, port in (("web", ports[0]), ("db", ports[1])):
        assert f"{name} (127.0.0.1:{port}): check started" in out.stderr, out
        assert f"\n{name}: TCP connect failed" in "\n" + out.stderr, out  # the engine's line
        assert f"{name} (127.0.0.1:{port}): check FAILED (exit 3)" in out.stdout, out
        assert re.search(rf"^{re.escape(name)} \(127\.0\.0\.1:{port}\)\s+3\s", out.stdout, re.M)


def test_counts_read_as_english() -> None:
    assert plural(1, "setting") == "1 setting"
    assert plural(2, "setting") == "2 settings"
    assert plural(0, "attempt") == "0 attempts"


def test_a_fleet_on_a_terminal_counts_the_hosts_done_in_the_live_line(
    tmp_path: Path, key: Path
) -> None:
    ports = free_ports(2)
    inventory = tmp_path / "hosts.yaml"
    entries = "".join(f"  - {{name: h{p}, host: 127.0.0.1, port: {p}}}\n" for p in ports)
    inventory.write_text(f"defaults: {{user: root, identity: {key}}}\nhosts:\n{entries}")
    shown = _in_a_terminal(
        ["check", "--inventory", str(inventory), "--wait", "1", "--known-hosts", str(key) + ".kh"],
        {"TERM": "xterm-256color"},
    )
    assert "0/2 hosts done" in shown or "1/2 hosts done" in shown, shown
    for p in ports:
        assert f"h{p} (127.0.0.1:{p}): check started" in shown, shown
