"""Secrets (issue 5): the private key and its passphrase never show up anywhere.

A passphrase-protected OpenSSH key (through --passphrase-env) and a plain RSA key given as text
(the Pulumi path) are used for real applies, checks, plans, fleet runs and failures against real
OpenSSH test hosts. Everything that comes back is captured -- stdout, stderr (progress), --json,
exception texts, the Pulumi provider's outputs, results and log lines -- and scanned for the key
material: every base64 line of the key file, overlapping chunks of it that are specific to this
key (a reference key of the same kind rules out the shared OpenSSH header), the raw private
numbers, and the passphrase. The hosts themselves are scanned too: only the public half may
ever reach them.

That Pulumi keeps `privateKey` secret in the stack's outputs is tested in
tests/unit/test_sshd_hardening_graph.py (additional_secret_outputs) and
tests/pulumi/test_sshd_hardening_grpc.py.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from components.sshd_hardening.provider import SshdHardeningError, SshdHardeningProvider
from hardening.model.desired import Request
from hardening.model.errors import UsageError
from hardening.ops import engine
from hardening.ssh.keys import load_private_key
from hardening.ssh.transport import Target
from hardening.ssh.trust import HostKeyPolicy
from tests.conftest import HostFactory
from tests.helpers.cli import Cli, Outcome, run_cli
from tests.helpers.fault_proofs import stalled_server
from tests.testhosts.chroot import TestHost, allocate_port

PASSPHRASE = "Corr3ct horse & battery $taple"
PASS_ENV = "HARDENED_ECS_TEST_KEY_PASSPHRASE"
CHUNK = 20  # characters; long enough to be specific, short enough to catch partial leaks


def _keygen(path: Path, *args: str) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-C", "", *args, "-f", str(path)], check=True)
    return path


def _body(pem: str) -> str:
    return "".join(ln for ln in pem.splitlines() if ln and "PRIVATE KEY" not in ln)


def _chunks(text: str) -> set[str]:
    return {text[i : i + CHUNK] for i in range(0, max(1, len(text) - CHUNK + 1), CHUNK // 4)}


def _load(text: str, passphrase: str | None) -> Any:
    password = passphrase.encode() if passphrase else None
    if "OPENSSH PRIVATE KEY" in text:
        return serialization.load_ssh_private_key(text.encode(), password=password)
    return serialization.load_pem_private_key(text.encode(), password=password)


def _bodies(path: Path, passphrase: str | None) -> list[str]:
    """The key file's base64 body, and the decrypted key as PKCS#8 and as plain OpenSSH PEM
    (what would be printed if anything serialized the loaded key)."""
    text = path.read_text()
    key = _load(text, passphrase)
    plain = [
        key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption()).decode()
        for fmt in (serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.OpenSSH)
    ]
    return [_body(text), *(_body(p) for p in plain)]


def _raw_numbers(key: Any) -> list[str]:
    """The private key's secret numbers, in the spellings a careless print would use."""
    if isinstance(key, ed25519.Ed25519PrivateKey):
        seed = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        return [seed.hex(), base64.b64encode(seed).decode()[:-2]]
    assert isinstance(key, rsa.RSAPrivateKey)
    nums = key.private_numbers()
    return [str(nums.d)[:40], f"{nums.d:x}"[:40], f"{nums.p:x}"[:40], str(nums.p)[:40]]


@dataclass
class Secret:
    """What must never be seen of one private key (and its passphrase)."""

    name: str
    needles: set[str] = field(default_factory=set)

    @classmethod
    def of_key_file(
        cls, name: str, path: Path, reference: Path, passphrase: str | None = None
    ) -> Secret:
        """`reference`: another key of the same kind, to leave out what all such keys share."""
        public = path.with_name(path.name + ".pub").read_text().split()[1]
        shared = {public[i : i + CHUNK] for i in range(len(public))}
        for body in _bodies(reference, "another one" if passphrase else None):
            shared |= _chunks(body)
        needles: set[str] = set()
        for body in _bodies(path, passphrase):
            needles |= _chunks(body) - shared
        text, ref = path.read_text(), reference.read_text()
        needles |= {ln for ln in text.splitlines() if ln and "PRIVATE KEY" not in ln}
        needles -= set(ref.splitlines())
        needles |= set(_raw_numbers(_load(text, passphrase)))
        if passphrase:
            needles.add(passphrase)
        return cls(name, needles)

    def found_in(self, text: str) -> list[str]:
        # Never echo a whole needle: say which secret and where, with a short prefix.
        return [f"{self.name}: {n[:6]}... at {text.index(n)}" for n in self.needles if n in text]


@dataclass
class Keys:
    enc: Path  # ed25519, OpenSSH format, passphrase-protected (ssh-keygen's default format)
    rsa: Path  # RSA 3072, PEM, no passphrase: what a Pulumi secret typically holds
    secrets: list[Secret]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    d = tmp_path_factory.mktemp("secret-keys")
    enc = _keygen(d / "enc", "-N", PASSPHRASE, "-t", "ed25519")
    enc_ref = _keygen(d / "enc-ref", "-N", "another one", "-t", "ed25519")
    rsa_key = _keygen(d / "rsa", "-N", "", "-m", "PEM", "-t", "rsa", "-b", "3072")
    rsa_ref = _keygen(d / "rsa-ref", "-N", "", "-m", "PEM", "-t", "rsa", "-b", "3072")
    secrets = [
        Secret.of_key_file("ed25519 (passphrase)", enc, enc_ref, PASSPHRASE),
        Secret.of_key_file("rsa (Pulumi text)", rsa_key, rsa_ref),
    ]
    assert all(len(s.needles) > 20 for s in secrets)
    return Keys(enc, rsa_key, secrets)


class Capture:
    """Everything the tool said, labelled, for one scan at the end."""

    def __init__(self, keys: Keys) -> None:
        self.keys = keys
        self.texts: list[tuple[str, str]] = []

    def add(self, label: str, text: str) -> None:
        self.texts.append((label, text))

    def outcome(self, label: str, out: Outcome) -> Outcome:
        self.add(f"{label} stdout", out.stdout)
        self.add(f"{label} stderr", out.stderr)
        return out

    def leaks(self) -> list[str]:
        return [
            f"{label}: {hit}"
            for label, text in self.texts
            for secret in self.keys.secrets
            for hit in secret.found_in(text)
        ]


def _env(passphrase: str | None = PASSPHRASE) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != PASS_ENV}
    if passphrase is not None:
        env[PASS_ENV] = passphrase
    return env


def _scan_host(host: TestHost, keys: Keys) -> list[str]:
    """Only the public half may reach a host: grep its writable places for the needles."""
    patterns = "\n".join(n for s in keys.secrets for n in s.needles) + "\n"
    found = host.run(
        "grep -rlF -f /dev/stdin /etc /home /root /var /tmp /run 2>/dev/null; true",
        input=patterns,
    ).stdout.split()
    return found + [f"syslog: {h}" for s in keys.secrets for h in s.found_in(host.syslog())]


def test_no_key_material_or_passphrase_in_anything_the_cli_says(
    host_factory: HostFactory, keys: Keys, tmp_path: Path
) -> None:
    host = host_factory("bookworm", authorized_keys=[keys.enc])
    cli = Cli(host.port, keys.enc, tmp_path / "known_hosts")
    pp = ("--passphrase-env", PASS_ENV)
    cap = Capture(keys)

    def run(label: str, action: str, *extra: str, code: int, **kw: Any) -> Outcome:
        out = cap.outcome(label, cli.run(action, *extra, **kw))
        assert out.code == code, f"{label}: {out}"
        return out

    # Success: plan, apply, the idempotent apply, check; text and --json.
    run("plan", "plan", *pp, code=0, env=_env())
    run("apply", "apply", *pp, code=0, env=_env())
    applied = run("apply --json", "apply", *pp, "--json", code=0, env=_env())
    assert json.loads(applied.stdout)["compliant"] is True
    run("check", "check", *pp, code=0, env=_env())
    checked = run("check --json", "check", *pp, "--json", code=0, env=_env())
    assert json.loads(checked.stdout)["exit_code"] == 0
    # Drift: check exits 1 with its table.
    run("check drift", "check", *pp, "--set", "MaxAuthTries=2", code=1, env=_env())

    # Fleet mode, the passphrase named in the inventory.
    inventory = tmp_path / "hosts.yaml"
    inventory.write_text(
        f"- {{host: 127.0.0.1, port: {host.port}, user: root, identity: {keys.enc},"
        f" passphrase_env: {PASS_ENV}, known_hosts: {cli.known_hosts}}}\n"
    )
    for extra in ((), ("--json",)):
        out = run_cli(["check", "--inventory", str(inventory), "--wait", "5", *extra], env=_env())
        assert cap.outcome(f"fleet check {extra}", out).code == 0, out

    # Failures: the key and its passphrase.
    wrong = run("wrong passphrase", "check", *pp, code=2, env=_env("not it"))
    run("wrong passphrase --json", "check", *pp, "--json", code=2, env=_env("not it"))
    run("no passphrase", "check", code=2, env=_env())
    run("passphrase variable unset", "check", *pp, code=2, env=_env(None))
    assert "--identity" in wrong.stderr
    # Failures: the host.
    host.run("echo 'NotAnOption yes' > /etc/ssh/sshd_config.d/60-broken.conf", check=True)
    run("broken host config", "apply", *pp, code=4, env=_env())
    run("broken host config --json", "check", *pp, "--json", code=4, env=_env())
    host.run("rm /etc/ssh/sshd_config.d/60-broken.conf", check=True)
    stranger = Cli(host.port, keys.rsa, cli.known_hosts)  # a key the host does not know
    cap.outcome("refused key", stranger.run("check", wait=1))
    nobody = Cli(allocate_port(), keys.enc, tmp_path / "kh-closed")
    closed = cap.outcome("closed port", nobody.run("apply", *pp, "--json", wait=1, env=_env()))
    assert closed.code == 3, closed
    with stalled_server() as port:  # an exception's text ends up in the message
        stalled = Cli(port, keys.enc, tmp_path / "kh-stalled")
        cap.outcome("stalled server", stalled.run("check", *pp, wait=1, env=_env()))

    leaks = cap.leaks()
    assert not leaks, leaks
    host_leaks = _scan_host(host, keys)
    assert not host_leaks, host_leaks
    assert len(cap.texts) >= 30


@contextlib.contextmanager
def _exception_text(cap: Capture, label: str, kind: type[Exception] = UsageError) -> Iterator[None]:
    try:
        yield
    except Exception as exc:  # the point: whatever it is, its text must be clean
        assert isinstance(exc, kind), f"{label}: {exc!r}"
        cap.add(f"{label} str", str(exc))
        cap.add(f"{label} repr", repr(exc))
        cap.add(f"{label} args", repr(exc.args))
    else:
        raise AssertionError(f"{label}: expected an exception")


def test_no_key_material_in_exceptions_reports_or_pulumi_provider_results(
    host_factory: HostFactory,
    keys: Keys,
    capfd: pytest.CaptureFixture[str],
) -> None:
    host = host_factory("bookworm", authorized_keys=[keys.rsa])
    cap = Capture(keys)
    rsa_text = keys.rsa.read_text()
    enc_text = keys.enc.read_text()

    # The library, as the CLI and the provider call it.
    for label, kwargs in {
        "wrong passphrase": {"path": str(keys.enc), "passphrase": "not it"},
        "no passphrase": {"path": str(keys.enc)},
        "encrypted text": {"text": enc_text},
        "truncated text": {"text": rsa_text[: len(rsa_text) // 2]},
    }.items():
        with _exception_text(cap, label):
            load_private_key(**kwargs)
    loaded = load_private_key(path=str(keys.enc), passphrase=PASSPHRASE)
    cap.add("loaded key repr", repr(loaded))
    with pytest.raises(UsageError):
        load_private_key(path=str(keys.enc))
    closed = Target("127.0.0.1", allocate_port(), "root", loaded, HostKeyPolicy(accept_new=True))
    report = engine.apply(closed, Request(), engine.Options(wait=0.5))
    assert report.exit_code == 3
    cap.add("engine report", json.dumps(report.as_dict()))
    cap.add("engine target repr", repr(closed))

    # The Pulumi provider: check, create, read, update; and its failures.
    provider = SshdHardeningProvider()
    props: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": host.port,
        "adminUser": "ops",
        "privateKey": rsa_text,
        "wait": 10,
    }
    bad = provider.check({}, {**props, "privateKey": enc_text})
    assert [f.property for f in bad.failures] == ["privateKey"]
    cap.add("provider check failure", repr([(f.property, f.reason) for f in bad.failures]))
    checked = provider.check({}, props)
    assert not checked.failures, checked.failures
    created = provider.create(checked.inputs)
    assert created.outs is not None and created.outs["compliant"] is True
    read = provider.read(str(created.id), created.outs)
    assert read.outs is not None
    updated = provider.update(
        str(created.id), created.outs, {**checked.inputs, "overrides": {"MaxAuthTries": 2}}
    )
    assert updated.outs is not None
    for label, outs in (("create", created.outs), ("read", read.outs), ("update", updated.outs)):
        assert outs["privateKey"] == rsa_text  # an input echoed back, marked secret by Pulumi
        cap.add(f"provider {label} outputs", json.dumps({**outs, "privateKey": None}))
    with _exception_text(cap, "provider create, closed port", SshdHardeningError):
        provider.create({**checked.inputs, "port": allocate_port(), "wait": 0.5})
    with _exception_text(cap, "provider update, wrong key", SshdHardeningError):
        other = {**checked.inputs, "privateKey": load_private_key_text(keys.enc)}
        provider.update(str(created.id), updated.outs, {**other, "wait": 0.5})
    logged = capfd.readouterr()
    cap.add("provider log stdout", logged.out)
    cap.add("provider log stderr", logged.err)
    assert "sshd hardening" in logged.err  # the progress lines were captured

    leaks = cap.leaks()
    assert not leaks, leaks
    host_leaks = _scan_host(host, keys)
    assert not host_leaks, host_leaks


def load_private_key_text(path: Path) -> str:
    """The passphrase-protected key, decrypted and written out as PEM text (a Pulumi secret)."""
    key = serialization.load_ssh_private_key(path.read_bytes(), password=PASSPHRASE.encode())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()


def test_the_scan_finds_key_material_and_nothing_else(
    keys: Keys, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The scan is not vacuous: it catches the key in every spelling, and only the key."""
    enc, rsa_secret = keys.secrets
    text = keys.enc.read_text()
    middle = text.splitlines()[len(text.splitlines()) // 2]
    assert enc.found_in(text) and enc.found_in(f"...{middle[5:35]}...")
    assert enc.found_in(f"passphrase was {PASSPHRASE!r}")
    for body in _bodies(keys.enc, PASSPHRASE)[1:]:  # the decrypted key, however serialized
        assert enc.found_in(body[len(body) // 2 :][: CHUNK + 10])
    for number in _raw_numbers(_load(text, PASSPHRASE)):
        assert enc.found_in(f"key={number}")
    assert rsa_secret.found_in(keys.rsa.read_text()[200:260])
    # Public halves, fingerprints and other keys of the same kind are fine to print.
    d = tmp_path_factory.mktemp("other-keys")
    other = _keygen(d / "other", "-N", PASSPHRASE + "x", "-t", "ed25519")
    harmless = [
        keys.enc.with_name("enc.pub").read_text(),
        keys.rsa.with_name("rsa.pub").read_text(),
        other.read_text(),
        subprocess.run(
            ["ssh-keygen", "-lf", str(keys.enc.with_name("enc.pub"))],
            capture_output=True,
            text=True,
            check=True,
        ).stdout,
    ]
    for text in harmless:
        assert not enc.found_in(text) and not rsa_secret.found_in(text), text
