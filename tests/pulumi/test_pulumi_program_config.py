"""The real program (__main__.py) and its Pulumi.yaml under the real Pulumi CLI.

The CLI checks the stack configuration against Pulumi.yaml's `config:` block before the program
runs: every declared key without a default must be set, and typed keys must have their type.
The mocks (tools/offline_preview.py, `make validate`) never did either. The committed stacks
must get past that check, and a wrongly typed key must fail it with the CLI's own message.

Beyond the check the program needs the Alibaba provider plugin (`pulumi-resource-alicloud`),
which the Go module proxy here does not serve: the previews below stop at the first Alibaba
resource with the CLI's "no resource plugin" error, which proves the program ran that far.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.unit.program_preview import ecdsa_pair
from tools.engine_stack import ROOT, EngineStack

NO_PROVIDER = "no resource plugin 'pulumi-resource-alicloud' found"
CONFIG_CHECK = "validating stack config"


def real_stack(workdir: Path, cli: Path, stack: str) -> EngineStack:
    """A stack of the real project whose config is the committed Pulumi.<stack>.yaml."""
    s = EngineStack.create(workdir, cli, stack, source=ROOT, program="__main__.py")
    stack_file = s.project / f"Pulumi.{stack}.yaml"
    doc = yaml.safe_load(stack_file.read_text()) or {}  # encryptionsalt from `stack init`
    doc["config"] = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]
    stack_file.write_text(yaml.safe_dump(doc, sort_keys=False))
    return s


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory, cli: Path) -> Iterator[EngineStack]:
    yield real_stack(tmp_path_factory.mktemp("real-dev"), cli, "dev")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_committed_stack_passes_the_clis_config_check_and_runs_the_program(
    tmp_path: Path, cli: Path, stack: str
) -> None:
    # Neither stack sets sshPrivateKey, imageId, zoneId or vswitchId (all optional): with those
    # declared without a default, the CLI refused both ("is missing configuration values").
    s = real_stack(tmp_path, cli, stack)
    step = s.run("preview", check=False)
    assert CONFIG_CHECK not in step.output, step.describe()
    assert "missing configuration" not in step.output, step.describe()
    assert NO_PROVIDER in step.output, step.describe()


@pytest.mark.parametrize(
    ("key", "value", "type_"),
    [
        ("instanceCount", "three", "integer"),
        ("elasticIp", "maybe", "boolean"),
        ("allowedSshCidrs", "10.0.0.0/8", "array<string>"),  # a string, not a list
    ],
)
def test_a_wrongly_typed_key_fails_the_preview_with_the_clis_schema_message(
    dev: EngineStack, key: str, value: str, type_: str
) -> None:
    stack_file = dev.project / "Pulumi.dev.yaml"
    committed = stack_file.read_text()
    dev.run("config", "set", f"hardened-ecs:{key}", value)
    try:
        step = dev.run("preview", check=False)
    finally:
        stack_file.write_text(committed)
    assert step.returncode != 0
    message = f"Stack 'dev' with configuration key '{key}' must be of type '{type_}'"
    assert message in step.output, step.describe()
    assert NO_PROVIDER not in step.output  # refused before the program ran


def test_the_programs_own_config_check_reports_through_the_cli(dev: EngineStack) -> None:
    # Typed right, so the CLI lets it through; the program (components/config.py) refuses it
    # before it registers anything, and the language host hands its message to the CLI.
    stack_file = dev.project / "Pulumi.dev.yaml"
    committed = stack_file.read_text()
    dev.run("config", "set", "hardened-ecs:instanceCount", "0")
    try:
        step = dev.run("preview", check=False)
    finally:
        stack_file.write_text(committed)
    assert step.returncode != 0
    assert "hardened-ecs:instanceCount must be between 1 and 50, got 0" in step.output, (
        step.describe()
    )
    assert NO_PROVIDER not in step.output


@pytest.mark.parametrize("secret", [True, False])
def test_the_program_sees_which_config_values_are_secret(
    tmp_path: Path, cli: Path, secret: bool
) -> None:
    # The language host passes the CLI's list of secret keys on (PULUMI_CONFIG_SECRET_KEYS):
    # the program refuses a private key stored in plain text, and only then.
    public, private = ecdsa_pair()
    s = real_stack(tmp_path, cli, "dev")
    s.run("config", "set", "hardened-ecs:sshPublicKey", public)
    if secret:
        s.set_config("hardened-ecs:sshPrivateKey", private, secret=True)
    else:
        s.run("config", "set", "--plaintext", "hardened-ecs:sshPrivateKey", stdin=private)
    step = s.run("preview", check=False)
    plain_text = "hardened-ecs:sshPrivateKey is stored in plain text"
    assert (plain_text in step.output) is not secret, step.describe()
    assert (NO_PROVIDER in step.output) is secret, step.describe()
