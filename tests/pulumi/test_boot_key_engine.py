"""BootHostKey under the real Pulumi engine (CLI, language host, dynamic provider process,
file backend, passphrase secrets): generated once, its private half only as ciphertext in the
state, no diff on the next preview, refresh or up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from hardening.change.rekey import openssh_fingerprint
from tools.engine_stack import CliUnavailable, EngineStack, cli_dir

KEY_TYPE = "pulumi-python:dynamic/hardening:BootHostKey"
SECRET_SIG = "4dabf18193072939515e22adb298388d"
PROJECT = Path(__file__).resolve().parent / "engine_boot_key"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineStack]:
    try:
        cli = cli_dir()
    except CliUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    s = EngineStack.create(tmp_path_factory.mktemp("bootkey"), cli, source=PROJECT)
    # No config at all on purpose: the language host once passed it on as null (a crash).
    s.run("up", "--yes")
    yield s


def test_each_server_gets_its_own_key_and_its_private_half_is_only_ciphertext(
    stack: EngineStack,
) -> None:
    keys = stack.resources(KEY_TYPE)
    assert len(keys) == 2
    fingerprints = set()
    for res in keys:
        secret = res["outputs"]["privateKey"]
        assert isinstance(secret, dict) and secret[SECRET_SIG] and secret["ciphertext"]
        public = res["outputs"]["publicKey"]
        assert public.startswith("ssh-ed25519 ")
        assert res["outputs"]["fingerprint"] == openssh_fingerprint(public)
        fingerprints.add(res["outputs"]["fingerprint"])
    assert len(fingerprints) == 2
    # The user data (it holds the private key) is a secret output as well.
    outputs = stack.outputs()
    assert "-----BEGIN OPENSSH PRIVATE KEY" not in str(stack.export())
    shown = stack.run("stack", "output", "--show-secrets", "--json").stdout
    document = yaml.safe_load(yaml.safe_load(shown)["server-0-userData"])
    assert (
        openssh_fingerprint(document["ssh_keys"]["ed25519_public"])
        == outputs["server-0"]["fingerprint"]
    )
    body = "".join(document["ssh_keys"]["ed25519_private"].splitlines()[1:-1])
    for path in stack.state_files():
        assert body[20:80] not in path.read_bytes().decode(errors="replace"), path


def test_no_recurring_diff_and_the_key_stays(stack: EngineStack) -> None:
    before = {r["urn"]: r["outputs"]["fingerprint"] for r in stack.resources(KEY_TYPE)}
    stack.run("preview", "--expect-no-changes")
    stack.run("refresh", "--yes", "--expect-no-changes")
    stack.run("up", "--yes", "--expect-no-changes")
    after = {r["urn"]: r["outputs"]["fingerprint"] for r in stack.resources(KEY_TYPE)}
    assert after == before
