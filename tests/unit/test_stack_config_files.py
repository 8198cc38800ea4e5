"""The committed stack files and Pulumi.yaml: they validate, differ where they should, and declare
every key with the program's defaults.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from components.config import DEFAULTS
from tests.unit.config_refusal import DEV
from tests.unit.program_preview import ROOT, STACK_FILES
from tools.offline_preview import run_offline_preview

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda p: p.name)
def test_committed_stacks_validate_without_a_private_key(stack_file: Path) -> None:
    result = run_offline_preview(stack_file, ROOT)
    assert result.ok, (result.config_problems, result.error)
    text = stack_file.read_text()
    assert "PRIVATE KEY" not in text and "sshPrivateKey:" not in text
    assert "PLACEHOLDER" in text  # the CIDRs and the key say what to replace


def test_prod_differs_from_dev_in_size_region_and_cidrs() -> None:
    dev = yaml.safe_load(DEV.read_text())["config"]
    prod = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"]
    assert dev["hardened-ecs:instanceCount"] == 1
    assert prod["hardened-ecs:instanceCount"] == 2
    assert dev["alicloud:region"] != prod["alicloud:region"]
    assert dev["hardened-ecs:allowedSshCidrs"] != prod["hardened-ecs:allowedSshCidrs"]
    # Prod protects its servers and gives them stable addresses; dev keeps the defaults (off).
    for key in ("deletionProtection", "elasticIp"):
        assert prod[f"hardened-ecs:{key}"] is True
        assert f"hardened-ecs:{key}" not in dev


# Read by the program, optional, no default: the CLI requires every key Pulumi.yaml declares
# without a default (tests/pulumi/test_pulumi_program_config.py), so these are only named in a
# comment.
OPTIONAL_WITHOUT_DEFAULT = ("sshPrivateKey", "imageId", "zoneId", "vswitchId")


def test_pulumi_yaml_declares_every_key_with_the_programs_defaults() -> None:
    text = (ROOT / "Pulumi.yaml").read_text()
    project = yaml.safe_load(text)
    assert project["name"] == "hardened-ecs"
    assert project["runtime"] == {
        "name": "python",
        "options": {"toolchain": "pip", "virtualenv": "venv"},
    }
    schema = project["config"]
    assert set(schema) == set(DEFAULTS) | {"allowedSshCidrs", "sshPublicKey"}
    for key, declaration in schema.items():
        assert declaration.get("description"), key
        if key in DEFAULTS:
            assert declaration.get("default") == DEFAULTS[key], key
        else:  # required: the program reports it missing, and so does the CLI
            assert "default" not in declaration, key
    for key in OPTIONAL_WITHOUT_DEFAULT:
        assert f"#   {key} " in text, key
