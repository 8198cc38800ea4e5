"""Bad input (issue 5): every bad CLI argument and inventory value exits 2 with a message that
names the flag or key and says what to pass instead, BEFORE any connection.

"Before any connection" is proven, not assumed: every case points at a witness port that
listens on 127.0.0.1 and is never accepted from. A tool that connected would be seen there
(a completed TCP handshake waits in the listen queue) and would itself sit out its --wait 30
for a banner that never comes, ending with exit 3, not 2.

Stack configuration values (Pulumi config: CIDRs, instance counts, keys, images, the
`hardening` block, ...) are the same kind of table in tests/unit/test_stack_config_*.py: each
runs the real program offline and asserts that nothing is registered and the problem names the
key and the `pulumi config set` line. They are not repeated here.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.helpers.cli import Outcome, run_cli
from tests.unit.bad_input_cases import ALIAS_BOMB, BASE, CASES, PASSPHRASE_ENV, UNSET, Case


@dataclass(frozen=True)
class Files:
    """Key files and inventories the cases refer to as {name}."""

    values: dict[str, str]

    def fill(self, text: str) -> str:
        return text.format(**self.values)


@pytest.fixture(scope="module")
def witness() -> Iterator[socket.socket]:
    """A port that listens and never accepts: any connection attempt stays visible in it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield s


def _pending(s: socket.socket) -> bool:
    readable, _, _ = select.select([s], [], [], 0)
    return bool(readable)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, witness: socket.socket) -> Files:
    d = tmp_path_factory.mktemp("bad-input")
    for name, args in {
        "key": ["-N", "", "-t", "ed25519"],
        "enc": ["-N", "correct horse", "-t", "ed25519"],  # OpenSSH format (the default)
        "pem_enc": ["-N", "correct horse", "-m", "PEM", "-t", "ecdsa"],
        "rsa2048": ["-N", "", "-t", "rsa", "-b", "2048"],
    }.items():
        subprocess.run(["ssh-keygen", "-q", *args, "-f", str(d / name)], check=True)
    (d / "garbage").write_text("this is not a key\n")
    (d / "empty").write_bytes(b"")
    (d / "keydir").mkdir()
    (d / "loop").symlink_to(d / "loop2")
    (d / "loop2").symlink_to(d / "loop")
    port = witness.getsockname()[1]
    values = {
        "port": str(port),
        "key": str(d / "key"),
        "pub": str(d / "key.pub"),
        "enc": str(d / "enc"),
        "pem_enc": str(d / "pem_enc"),
        "rsa2048": str(d / "rsa2048"),
        "garbage": str(d / "garbage"),
        "empty": str(d / "empty"),
        "keydir": str(d / "keydir"),
        "loop": str(d / "loop"),
        "missing": str(d / "no-such-key"),
        "kh": str(d / "known_hosts"),
        "dir": str(d),
    }
    entry = f"{{host: 127.0.0.1, port: {port}, user: root, identity: {d / 'key'}}}"
    inventories = {
        "inv_yaml": "hosts: [127.0.0.1\n",
        "inv_empty": "[]\n",
        "inv_scalar": "just a string\n",
        "inv_port": f"- {{host: 127.0.0.1, port: ssh, user: root, identity: {d / 'key'}}}\n",
        "inv_unknown": f"- {{hostname: 127.0.0.1, host: 127.0.0.1, port: {port}}}\n",
        "inv_no_identity": f"- {{host: 127.0.0.1, port: {port}, user: root}}\n",
        "inv_profile": f"defaults: {{profile: paranoid}}\nhosts: [{entry}]\n",
        "inv_twice": f"- {entry}\n- {entry}\n",
        "inv_host_owned": f"defaults: {{set: {{ListenAddress: 0.0.0.0}}}}\nhosts: [{entry}]\n",
        "inv_defaults": f"defaults: [1, 2]\nhosts: [{entry}]\n",
        "inv_top": f"hosts: [{entry}]\nhostz: []\n",
        "inv_default_name": f"defaults: {{name: web}}\nhosts: [{entry}]\n",
        "inv_name": f"- {{name: [web], host: 127.0.0.1, port: {port}, user: root}}\n",
        "inv_enc": f"- {{host: 127.0.0.1, port: {port}, user: root, identity: {d / 'enc'}}}\n",
        "inv_pass_env": (
            f"- {{host: 127.0.0.1, port: {port}, user: root, identity: {d / 'enc'},"
            f" passphrase_env: {UNSET}}}\n"
        ),
        "inv_lockout": f"- {{host: 127.0.0.1, port: {port}, set: {{AllowUsers: alice}}}}\n",
        "inv_bomb": ALIAS_BOMB + f"hosts: [{{host: *h, port: {port}}}]\n",
        "inv_own_key": (
            f"- {{host: 127.0.0.1, port: {port}, user: root, identity: {d / 'key'},"
            " set: {PubkeyAcceptedAlgorithms: rsa-sha2-256}}\n"
        ),
        "inv_loop": f"defaults: &d {{set: *d}}\nhosts: [{entry}]\n",
        "inv_case": (
            f"- {{host: LOCALHOST, port: {port}, user: root, identity: {d / 'key'}}}\n"
            f"- {{host: localhost, port: {port}, user: root, identity: {d / 'key'}}}\n"
        ),
    }
    for name, text in inventories.items():
        (d / f"{name}.yaml").write_text(text)
        values[name] = str(d / f"{name}.yaml")
    return Files(values)


def argv_for(case: Case, files: Files) -> list[str]:
    flags = {k: v for k, v in {**BASE, **case.replace}.items() if k not in case.drop}
    argv = [case.action]
    for k, v in flags.items():
        argv += [k, files.fill(v)]
    return argv + [files.fill(a) for a in case.add]


def run_case(case: Case, files: Files, *extra: str) -> Outcome:
    env = {k: v for k, v in os.environ.items() if k not in (UNSET, PASSPHRASE_ENV)}
    return run_cli([*argv_for(case, files), *extra], env={**env, **case.env}, timeout=120)


@pytest.mark.parametrize("case", CASES, ids=lambda c: getattr(c, "name", None))
def test_bad_input_exits_2_naming_the_flag_and_the_fix_before_connecting(
    case: Case, files: Files, witness: socket.socket
) -> None:
    out = run_case(case, files)
    assert not _pending(witness), f"{case.name}: the tool connected before refusing:\n{out}"
    assert out.code == 2, f"{case.name}:\n{out}"
    assert out.stdout == "", out  # results only on stdout; a usage error is not a result
    assert "Traceback" not in out.stderr, out
    for phrase in case.expect:
        assert files.fill(phrase) in out.stderr, f"{case.name}: {phrase!r} missing:\n{out}"


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 25


def test_every_problem_is_reported_at_once(files: Files, witness: socket.socket) -> None:
    case = Case(
        "many",
        (),
        replace={"--port": "0", "--wait": "-5", "--user": "Bad User"},
        add=("--set", "NoSuchOption=1", "--set", "MaxAuthTries=0", "--admin-user", "root"),
    )
    out = run_case(case, files)
    assert out.code == 2, out
    assert not _pending(witness)
    lines = out.stderr.removeprefix("error: ").splitlines()
    for phrase in (
        "--user 'Bad User'",
        "--port 0",
        "--wait -5",
        "admin user 'root'",
        "NoSuchOption: unknown",
        "MaxAuthTries='0'",
    ):
        assert sum(phrase in line for line in lines) == 1, (phrase, out.stderr)


def test_json_usage_error_is_one_json_object(files: Files, witness: socket.socket) -> None:
    out = run_case(Case("json", (), replace={"--port": "0"}), files, "--json")
    assert out.code == 2, out
    assert not _pending(witness)
    report = json.loads(out.stdout)
    assert report["exit_code"] == 2
    assert "--port 0: must be from 1 to 65535" in report["error"]
    assert out.stderr == ""  # --json: nothing else on the terminal


@pytest.mark.parametrize(
    "name", ["set a 5000-digit number", "inventory alias bomb", "Banner a secret file"]
)
def test_bad_input_is_named_not_echoed_whole(name: str, files: Files) -> None:
    (case,) = [c for c in CASES if c.name == name]
    out = run_case(case, files)
    assert out.code == 2, out
    assert len(out.stderr) < 2000, f"{len(out.stderr)} characters of error"
