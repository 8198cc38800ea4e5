"""Fleet mode (`python -m hardening apply|check --inventory hosts.yaml`) against real hosts.

One fleet of five entries, run once with `apply --json` and once with `check` (human output):

- two real hosts (bookworm and trixie): hardened, one with a per-host override (`set:`);
- a port where nothing listens (bound, never listening: connections are refused);
- a port that accepts TCP but never says a word (a hanging host);
- a real host whose key in known_hosts is wrong (another host's key): never touched.

The inventory checks (exit 2 before any connection) need no test host.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from bench.hosts import make_hostname_resolvable
from tests.conftest import ClientKeys, hosts_unavailable_reason
from tests.helpers.cli import Outcome, run_cli
from tests.testhosts.chroot import TestHost, auth_methods, rootfs_path, try_login
from tests.testhosts.gate import in_ci

WAIT = 3  # --wait: how long the dead and hanging entries are retried
EXIT_CONNECT = 3


def hardening(*args: str, timeout: float = 240) -> Outcome:
    """The CLI as an operator runs it: its own process, in the project directory."""
    return run_cli(list(args), timeout=timeout)


@contextlib.contextmanager
def dead_port() -> Iterator[int]:
    """A port where nothing listens: bound (so nobody else takes it), never listening."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@contextlib.contextmanager
def silent_port() -> Iterator[socket.socket]:
    """A port that completes the TCP handshake (kernel backlog) and never sends a banner."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield s


def accepted_nothing(listener: socket.socket) -> bool:
    """True if no client has connected to `listener` (nothing waits in its backlog)."""
    listener.setblocking(False)
    try:
        conn, _ = listener.accept()
    except BlockingIOError:
        return True
    conn.close()
    return False


def known_hosts_line(port: int, host: TestHost) -> str:
    return "".join(f"[127.0.0.1]:{port} {k}\n" for k in host.host_public_keys().values())


def etc_changes(host: TestHost) -> list[str]:
    """Files under /etc the host's writable layer holds (test setup included)."""
    return [p for p in host.changed_paths() if p.startswith("/etc/")]


@dataclass
class Fleet:
    good: list[TestHost]  # [bookworm with `set: MaxAuthTries`, trixie]
    wrong_key: TestHost
    dead: int
    hanging: socket.socket
    inventory: Path
    order: list[int]  # ports in inventory order
    wrong_key_etc_before: list[str]
    apply: Outcome
    reports: list[dict[str, Any]]
    check: Outcome
    evidence: Path  # the check's `--report FILE --format json` (issue 23)

    def report(self, port: int) -> dict[str, Any]:
        (found,) = [r for r in self.reports if r["port"] == port]
        return found

    @property
    def hanging_port(self) -> int:
        port: int = self.hanging.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def fleet(client_keys: ClientKeys, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    reason = hosts_unavailable_reason()
    for suite in ("bookworm", "trixie"):
        if reason is None and not rootfs_path(suite).is_dir():
            reason = f"no rootfs cache for {suite}: run `make testhosts`"
    if reason is not None:
        if in_ci():
            pytest.fail(f"CI=true but test hosts cannot run: {reason}", pytrace=False)
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("fleet")
    key = client_keys.ed25519
    hosts: list[TestHost] = []
    with contextlib.ExitStack() as stack:
        for suite in ("bookworm", "trixie", "bookworm"):
            host = TestHost(suite, authorized_keys=client_keys.installed)
            stack.callback(host.stop)
            hosts.append(host.start())
            # As on a real server: else each `sudo` may wait 5 s for DNS (bench/hosts.py).
            make_hostname_resolvable(host)
        good, wrong_key = hosts[:2], hosts[2]
        dead = stack.enter_context(dead_port())
        hanging = stack.enter_context(silent_port())
        known_hosts = work / "known_hosts"
        known_hosts.write_text(
            known_hosts_line(good[0].port, good[0])
            + known_hosts_line(good[1].port, good[1])
            # A different server's keys under this one's name: "HOST KEY CHANGED".
            + known_hosts_line(wrong_key.port, good[0])
        )
        order = [good[0].port, dead, wrong_key.port, hanging.getsockname()[1], good[1].port]
        entries: list[dict[str, Any]] = [{"host": "127.0.0.1", "port": p} for p in order]
        entries[0]["set"] = {"MaxAuthTries": 5}  # this host only
        inventory = work / "hosts.yaml"
        inventory.write_text(
            yaml.safe_dump(
                {
                    "defaults": {
                        "user": "root",
                        "identity": str(key),
                        "known_hosts": str(known_hosts),
                        "set": {"ClientAliveInterval": 120},  # every host
                    },
                    "hosts": entries,
                }
            )
        )
        before = etc_changes(wrong_key)
        apply = hardening("apply", "--inventory", str(inventory), "--wait", str(WAIT), "--json")
        try:
            reports = json.loads(apply.stdout)
        except ValueError:
            pytest.fail(f"no JSON from apply (exit {apply.code}):\n{apply.stderr}")
        # After the apply root is closed: the same inventory goes on through the admin user.
        evidence = work / "evidence.json"
        check = hardening(
            "check", "--inventory", str(inventory), "--wait", str(WAIT),
            "--report", str(evidence), "--format", "json",
        )  # fmt: skip
        yield Fleet(
            good=good,
            wrong_key=wrong_key,
            dead=dead,
            hanging=hanging,
            inventory=inventory,
            order=order,
            wrong_key_etc_before=before,
            apply=apply,
            reports=reports,
            check=check,
            evidence=evidence,
        )


def test_json_gives_one_object_per_host_in_inventory_order(fleet: Fleet) -> None:
    assert isinstance(fleet.reports, list), fleet.apply.stdout
    assert [(r["host"], r["port"]) for r in fleet.reports] == [
        ("127.0.0.1", p) for p in fleet.order
    ]
    for r in fleet.reports:
        assert r["action"] == "apply"
        assert {"exit_code", "changed", "compliant", "error", "connections", "commands"} <= set(r)
    assert fleet.apply.stderr == "", "--json prints no progress"


def test_exit_code_is_the_worst_hosts(fleet: Fleet) -> None:
    codes = {r["port"]: r["exit_code"] for r in fleet.reports}
    assert codes[fleet.good[0].port] == codes[fleet.good[1].port] == 0
    assert codes[fleet.dead] == codes[fleet.wrong_key.port] == EXIT_CONNECT
    # (the hanging entry's own code: test_unreachable_and_hanging_hosts_fail_alone)
    assert fleet.apply.code == max(codes.values()) >= EXIT_CONNECT
    summary = summary_rows(fleet.check.stdout)
    assert fleet.check.code == max(int(row[1]) for row in summary) >= EXIT_CONNECT


def summary_rows(stdout: str) -> list[list[str]]:
    """The closing summary table of a fleet run without --json: header, then one row per host
    (a long error goes on in its column on the indented lines below its row)."""
    lines = stdout.rstrip("\n").splitlines()
    header = next(i for i, ln in enumerate(lines) if ln.split()[:2] == ["host", "exit"])
    assert lines[header].split() == ["host", "exit", "changed", "compliant", "seconds", "error"]
    return [ln.split() for ln in lines[header + 1 :] if not ln.startswith(" ")]


@pytest.mark.parametrize("which", [0, 1], ids=["bookworm", "trixie"])
def test_reachable_hosts_are_hardened(fleet: Fleet, client_keys: ClientKeys, which: int) -> None:
    host = fleet.good[which]
    r = fleet.report(host.port)
    assert (r["changed"], r["compliant"], r["error"]) == (True, True, None)
    assert r["openssh"] and r["host_key_fingerprint"]
    # What sshd itself says now, asked inside the host.
    effective = host.sshd_effective("ops")
    assert effective["permitrootlogin"] == "no"
    assert effective["passwordauthentication"] == "no"
    assert effective["kbdinteractiveauthentication"] == "no"
    assert effective["x11forwarding"] == "no"
    assert effective["authenticationmethods"] == "publickey"
    for name in ("ciphers", "macs", "kexalgorithms"):
        assert not re.search(r"cbc|sha1|md5|nistp", effective[name]), (name, effective[name])
    # And from outside: root is shut out, the admin user gets in with the key only.
    assert try_login(host.port, "root", client_keys.ed25519) is False
    assert try_login(host.port, "ops", client_keys.ed25519) is True
    assert auth_methods(host.port, "ops") == ["publickey"]


def test_per_host_overrides_apply_only_to_that_host(fleet: Fleet) -> None:
    with_override, without = fleet.good
    assert with_override.sshd_effective("ops")["maxauthtries"] == "5"
    assert without.sshd_effective("ops")["maxauthtries"] == "3"  # the baseline profile's
    # `set:` under defaults reaches every host.
    for host in fleet.good:
        assert host.sshd_effective("ops")["clientaliveinterval"] == "120"
    assert fleet.report(with_override.port)["settings"]["MaxAuthTries"]["wanted"] == "5"
    assert fleet.report(without.port)["settings"]["MaxAuthTries"]["wanted"] == "3"


def test_unreachable_and_hanging_hosts_fail_alone(fleet: Fleet) -> None:
    dead, hanging = fleet.report(fleet.dead), fleet.report(fleet.hanging_port)
    assert "cannot reach" in dead["error"] and "refused" in dead["error"].lower(), dead
    assert "cannot reach" in hanging["error"], hanging
    for r in (dead, hanging):
        assert (r["changed"], r["commands"]) == (False, 0), r
    assert dead["connections"] == 0  # no TCP: nothing counted (the silent one got TCP up)
    # The hanging host kept its own worker busy; the real hosts finished long before it.
    slowest_good = max(fleet.report(h.port)["seconds"] for h in fleet.good)
    assert slowest_good < hanging["seconds"], (slowest_good, hanging["seconds"])
    assert hanging["seconds"] >= WAIT


def test_host_with_a_wrong_host_key_is_not_touched(fleet: Fleet, client_keys: ClientKeys) -> None:
    host = fleet.wrong_key
    r = fleet.report(host.port)
    assert "HOST KEY CHANGED" in r["error"], r
    assert (r["changed"], r["commands"]) == (False, 0)
    assert etc_changes(host) == fleet.wrong_key_etc_before
    assert host.sshd_effective()["permitrootlogin"] == "yes"
    assert host.run("id ops").returncode != 0
    assert try_login(host.port, "root", client_keys.ed25519) is True


def test_progress_per_host_on_stderr_and_summary_table_on_stdout(fleet: Fleet) -> None:
    err, out = fleet.check.stderr, fleet.check.stdout
    # The summary table closes stdout: one row per host, in inventory order.
    rows = summary_rows(out)
    assert [row[0] for row in rows] == [f"127.0.0.1:{p}" for p in fleet.order]
    for row in rows:
        # Each host announced on stderr as it starts and as it finishes, with the same exit.
        assert f"{row[0]}: check started" in err, err
        assert f"{row[0]}: check finished (exit {row[1]})" in err, err
    for host in fleet.good:  # checked through the admin user now that root is closed
        (row,) = [r for r in rows if r[0] == f"127.0.0.1:{host.port}"]
        assert row[1:4] == ["0", "false", "true"], row
    for port in (fleet.dead, fleet.wrong_key.port):
        (row,) = [r for r in rows if r[0] == f"127.0.0.1:{port}"]
        assert row[1] == str(EXIT_CONNECT), row
    assert "\x1b[" not in err, "no progress bar when stderr is not a terminal"
    assert " started" not in out and " finished" not in out


def test_check_report_holds_every_host_in_inventory_order(fleet: Fleet) -> None:
    """One evidence report for the fleet: the results of the hosts checked, and why the others
    were not; one summary line per host on stderr."""
    report = json.loads(fleet.evidence.read_text())
    schema = json.loads(
        (Path(__file__).resolve().parents[2] / "docs" / "evidence-report.schema.json").read_text()
    )
    jsonschema.validators.validator_for(schema)(schema).validate(report)
    assert [h["port"] for h in report["hosts"]] == fleet.order
    by_port = {h["port"]: h for h in report["hosts"]}
    for port in (fleet.dead, fleet.wrong_key.port, fleet.hanging_port):
        assert by_port[port]["error"] and by_port[port]["controls"] == [], by_port[port]
        assert f"127.0.0.1:{port}: not checked (" in fleet.check.stderr
    for host in fleet.good:
        checked = by_port[host.port]
        assert checked["error"] is None and checked["openssh"].startswith("OpenSSH_")
        status = {c["id"]: c["status"] for c in checked["controls"]}
        assert status["permit-root-login"] == "pass"
        # ClientAliveInterval 120 for every host: CIS (above 0) passes, dev-sec (300) does not.
        assert (status["client-alive"], status["client-alive-interval-devsec"]) == ("pass", "fail")
        summary = next(
            ln
            for ln in fleet.check.stderr.splitlines()
            if ln.startswith(f"127.0.0.1:{host.port}: ") and " pass, " in ln
        )
        assert "client-alive-interval-devsec" in summary
    # The inventory's MaxAuthTries 5 for the first host only: above CIS's 4.
    first = {c["id"]: c for c in by_port[fleet.good[0].port]["controls"]}
    assert (first["max-auth-tries-cis"]["status"], first["max-auth-tries-cis"]["actual"]) == (
        "fail",
        "5",
    )
    second = {c["id"]: c for c in by_port[fleet.good[1].port]["controls"]}
    assert second["max-auth-tries-cis"]["status"] == "pass"


# --------------------------------------------------------------------------- no host needed


@pytest.fixture
def usable_key(client_keys: ClientKeys) -> Path:
    return client_keys.ed25519


def run_inventory(tmp_path: Path, data: Any, *extra: str) -> Outcome:
    inventory = tmp_path / "hosts.yaml"
    inventory.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return hardening("apply", "--inventory", str(inventory), *extra, timeout=60)


def test_bad_inventory_entries_exit_2_naming_entry_and_key_before_any_connection(
    tmp_path: Path, usable_key: Path
) -> None:
    with silent_port() as listener:
        good_port = listener.getsockname()[1]
        data = {
            "defaults": {"user": "root", "identity": str(usable_key)},
            "hosts": [
                {"host": "127.0.0.1", "port": good_port},  # fine, and must not be contacted
                {"host": "127.0.0.1", "port": 70000},
                {"host": "127.0.0.1", "port": good_port + 1, "colour": "blue"},
                {"host": "127.0.0.1", "port": good_port + 2, "profile": "paranoid"},
                {"port": 2222},
                {"host": "127.0.0.1", "port": good_port + 3, "set": {"PermitRootLogin": "maybe"}},
                {"host": "127.0.0.1", "port": good_port},
            ],
        }
        proc = run_inventory(tmp_path, data)
        assert proc.code == 2, proc.stdout + proc.stderr
        err = proc.stderr
        where = f"{tmp_path / 'hosts.yaml'}: hosts"
        assert f"{where}[2].port: 70000" in err, err
        assert f"{where}[3].colour: unknown key" in err, err
        assert f"{where}[4].profile: 'paranoid'" in err, err
        assert f"{where}[5].host: required" in err, err
        assert f"{where}[6]" in err and "PermitRootLogin" in err, err
        assert f"{where}[7]: 127.0.0.1:{good_port} is listed twice" in err, err
        assert f"{where}[1]" not in err, "the good entry is not blamed"
        assert proc.stdout == ""
        assert accepted_nothing(listener), "an entry was contacted before the inventory was valid"


def test_bad_inventory_with_json_is_one_error_object(tmp_path: Path, usable_key: Path) -> None:
    data = {"defaults": {"identity": str(usable_key)}, "hosts": [{"host": "127.0.0.1"}]}
    proc = run_inventory(tmp_path, data, "--json")
    assert proc.code == 2
    out = json.loads(proc.stdout)
    assert out["exit_code"] == 2
    assert "hosts[1].user: required" in out["error"], out


@pytest.mark.parametrize(
    ("data", "phrases"),
    [
        ("hosts: [\n  - {host: a\n", ["not valid YAML"]),
        ({"hosts": []}, ["expected a list of hosts"]),
        ({"hosts": ["127.0.0.1"], "extra": 1}, ["unknown key(s) extra"]),
        (
            {"defaults": {"user": "root", "identity": "/nonexistent/id_ed25519"},
             "hosts": ["127.0.0.1"]},
            ["identity (127.0.0.1) /nonexistent/id_ed25519: no such file"],
        ),
    ],
    ids=["yaml", "empty", "top-level-key", "missing-identity"],
)  # fmt: skip
def test_unusable_inventory_exits_2(tmp_path: Path, data: Any, phrases: list[str]) -> None:
    with silent_port() as listener:
        proc = run_inventory(tmp_path, data, "--port", str(listener.getsockname()[1]))
        assert proc.code == 2, proc.stdout + proc.stderr
        for phrase in phrases:
            assert phrase in proc.stderr, proc.stderr
        assert accepted_nothing(listener)


def test_missing_inventory_file_exits_2(tmp_path: Path) -> None:
    proc = hardening("check", "--inventory", str(tmp_path / "nope.yaml"), timeout=60)
    assert proc.code == 2
    assert f"--inventory {tmp_path / 'nope.yaml'}: cannot read it" in proc.stderr
