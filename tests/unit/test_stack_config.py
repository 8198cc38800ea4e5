"""Stack configuration: each bad input is refused before any resource, naming key and fix.

Every case runs the real __main__.py (through tools.offline_preview) on the dev stack with one
thing changed, as the update step of `pulumi up`, with an otherwise valid matching key pair.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components.config import ANYWHERE_BELOW_PREFIX, DEFAULTS, ConfigError
from policy.guardrails.ssh_ingress import ANYWHERE_BELOW_PREFIX as POLICY_LIMITS
from tests.unit.test_program import (
    ROOT,
    STACK_FILES,
    deploy,
    ecdsa_pair,
    ed25519_pair,
    rsa_pair,
)
from tools.offline_preview import PreviewResult, run_offline_preview

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

DEV = ROOT / "Pulumi.dev.yaml"


def refused(result: PreviewResult, key: str, *phrases: str) -> str:
    """The one problem about ``key``; asserts nothing was registered and a fix is given."""
    assert result.error is None, result.error
    assert result.resources == (), "a refused configuration must register no resource"
    about = [p for p in result.config_problems if p.startswith(f"{key} ")]
    assert len(about) == 1, result.config_problems
    problem = about[0]
    assert "Fix: " in problem and "pulumi config" in problem.split("Fix: ", 1)[1], problem
    for phrase in phrases:
        assert phrase in problem, problem
    return problem


def test_the_baseline_dev_stack_is_accepted() -> None:
    # The other tests change one thing of this; it must be fine as it is.
    result = deploy(DEV)
    assert result.ok, result.config_problems


def test_missing_allowed_ssh_cidrs() -> None:
    problem = refused(deploy(DEV, unset=("allowedSshCidrs",)), "hardened-ecs:allowedSshCidrs")
    assert "is missing" in problem
    assert "pulumi config set --path 'hardened-ecs:allowedSshCidrs[0]'" in problem


@pytest.mark.parametrize("anywhere", ["0.0.0.0/0", "::/0"])
def test_the_whole_internet_needs_allow_ssh_from_anywhere(anywhere: str) -> None:
    cidrs = ["203.0.113.0/24", anywhere]
    refused(
        deploy(DEV, config={"allowedSshCidrs": cidrs}),
        "hardened-ecs:allowedSshCidrs",
        "item 1",
        "whole internet",
        "allowSshFromAnywhere true",
    )
    allowed = deploy(DEV, config={"allowedSshCidrs": cidrs, "allowSshFromAnywhere": True})
    assert allowed.ok, allowed.config_problems


@pytest.mark.parametrize(
    "halves", [["0.0.0.0/1", "128.0.0.0/1"], ["8.0.0.0/7"], ["::/1", "8000::/1"], ["2000::/3"]]
)
def test_ranges_wider_than_a_slash_8_or_16_count_as_anywhere(halves: list[str]) -> None:
    # 0.0.0.0/1 + 128.0.0.0/1 is everyone without a /0 in sight.
    result = deploy(DEV, config={"allowedSshCidrs": halves})
    assert result.resources == ()
    about = [p for p in result.config_problems if p.startswith("hardened-ecs:allowedSshCidrs ")]
    assert len(about) == len(halves), result.config_problems
    for index, problem in enumerate(about):
        assert f"item {index} " in problem and "large part of the internet" in problem
        assert "allowSshFromAnywhere true" in problem.split("Fix: ", 1)[1]
    allowed = deploy(DEV, config={"allowedSshCidrs": halves, "allowSshFromAnywhere": True})
    assert allowed.ok, allowed.config_problems


def test_the_widest_own_ranges_are_accepted() -> None:
    result = deploy(DEV, config={"allowedSshCidrs": ["10.0.0.0/8", "2001::/16"]})
    assert result.ok, result.config_problems


def test_config_and_policy_agree_on_what_anywhere_is() -> None:
    assert ANYWHERE_BELOW_PREFIX == POLICY_LIMITS == {4: 8, 6: 16}


@pytest.mark.parametrize("bad", ["203.0.113.0/33", "not-a-cidr", "203.0.113/24", ""])
def test_malformed_cidr(bad: str) -> None:
    refused(
        deploy(DEV, config={"allowedSshCidrs": [bad]}),
        "hardened-ecs:allowedSshCidrs",
        "item 0",
        "is not an IPv4 or IPv6 CIDR",
    )


def test_cidrs_must_be_a_list() -> None:
    refused(
        deploy(DEV, config={"allowedSshCidrs": "203.0.113.0/24"}),
        "hardened-ecs:allowedSshCidrs",
        "must be a list",
    )


@pytest.mark.parametrize(
    ("bad", "network"), [("203.0.113.5/24", "203.0.113.0/24"), ("2001:db8::1/64", "2001:db8::/64")]
)
def test_host_bits_set(bad: str, network: str) -> None:
    refused(
        deploy(DEV, config={"allowedSshCidrs": [bad]}),
        "hardened-ecs:allowedSshCidrs",
        "host bits set",
        network,
    )


@pytest.mark.parametrize("count", [0, 51, -1, "two"])
def test_instance_count_out_of_range(count: Any) -> None:
    refused(deploy(DEV, config={"instanceCount": count}), "hardened-ecs:instanceCount")


def test_instance_count_bounds_are_inclusive() -> None:
    result = deploy(DEV, config={"instanceCount": 50})
    assert result.ok, result.config_problems
    assert len(result.outputs["servers"].value) == 50


@pytest.mark.parametrize("user", ["root", "Ops", "9ops", "ops user", "x" * 33, "ubuntu"])
def test_unusable_admin_user(user: str) -> None:
    refused(deploy(DEV, config={"adminUser": user}), "hardened-ecs:adminUser", repr(user))


def test_ed25519_key_works_end_to_end_without_an_ecs_key_pair() -> None:
    """ImportKeyPair takes no ed25519: no key pair, no key_name; cloud-init authorizes the
    key for the admin user and the hardening logs in with it."""
    public, private = ed25519_pair()
    result = deploy(DEV, config={"sshPublicKey": public}, secrets={"sshPrivateKey": private})
    assert result.ok, result.config_problems
    assert not result.of_type("alicloud:ecs/ecsKeyPair:EcsKeyPair")
    (instance,) = result.of_type("alicloud:ecs/instance:Instance")
    assert "keyName" not in instance.inputs or instance.inputs["keyName"] is None
    (user,) = yaml.safe_load(instance.inputs["userData"])["users"]
    assert user["ssh_authorized_keys"] == [public]
    (server,) = result.outputs["servers"].value.values()
    assert server["sshCommand"].startswith("ssh -i ~/.ssh/id_ed25519 ")


def test_rsa_and_ecdsa_keys_still_get_the_ecs_key_pair() -> None:
    public, private = ecdsa_pair()
    result = deploy(DEV, config={"sshPublicKey": public}, secrets={"sshPrivateKey": private})
    assert result.ok, result.config_problems
    (pair,) = result.of_type("alicloud:ecs/ecsKeyPair:EcsKeyPair")
    assert pair.inputs["publicKey"] == public


def test_1024_bit_rsa_public_key_is_refused() -> None:
    public, private = rsa_pair(1024)
    result = deploy(DEV, config={"sshPublicKey": public}, secrets={"sshPrivateKey": private})
    refused(result, "hardened-ecs:sshPublicKey", "1024-bit", "at least 3072")


def test_private_key_that_does_not_match_the_public_key() -> None:
    _, other_private = rsa_pair(3072, seed=1)
    problem = refused(
        deploy(DEV, secrets={"sshPrivateKey": other_private}),
        "hardened-ecs:sshPrivateKey",
        "not the private half of sshPublicKey",
    )
    assert "PRIVATE KEY" not in problem and other_private.splitlines()[1] not in problem


def test_private_key_of_another_type_does_not_match() -> None:
    _, ecdsa_private = ecdsa_pair()
    refused(
        deploy(DEV, secrets={"sshPrivateKey": ecdsa_private}),
        "hardened-ecs:sshPrivateKey",
        "not the private half",
    )


def test_unreadable_private_key() -> None:
    refused(
        deploy(DEV, secrets={"sshPrivateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nnope\n"}),
        "hardened-ecs:sshPrivateKey",
        "not a readable private key",
    )


def test_private_key_in_plain_text_is_refused() -> None:
    _, private = rsa_pair()
    result = run_offline_preview(
        DEV,
        ROOT,
        config={"sshPublicKey": rsa_pair()[0], "sshPrivateKey": private},
        preview=False,
    )
    refused(result, "hardened-ecs:sshPrivateKey", "plain text", "--secret")


def test_up_refuses_without_the_private_key_but_a_preview_warns() -> None:
    refused(
        deploy(DEV, unset=("sshPrivateKey",)),
        "hardened-ecs:sshPrivateKey",
        "is missing",
        "pulumi config set --secret hardened-ecs:sshPrivateKey",
    )
    preview = deploy(DEV, unset=("sshPrivateKey",), preview=True)
    assert preview.ok, preview.config_problems
    warnings = [m for severity, m in preview.messages if severity == "WARNING"]
    assert any("sshPrivateKey is not set" in w and "`pulumi up` will refuse" in w for w in warnings)


@pytest.mark.parametrize("image", ["windows-2022", "ubuntu", "centos-7"])
def test_unknown_image_name(image: str) -> None:
    refused(deploy(DEV, config={"image": image}), "hardened-ecs:image", repr(image), "ubuntu-22.04")


@pytest.mark.parametrize("image", ["ubuntu-24.04", "debian-12", "alinux-3"])
def test_known_images_are_looked_up_by_their_own_pattern(image: str) -> None:
    result = deploy(DEV, config={"image": image})
    assert result.ok, result.config_problems
    (call,) = [i for i in result.invokes if i.token == "alicloud:ecs/getImages:getImages"]
    default = deploy(DEV)
    (default_call,) = [i for i in default.invokes if i.token == "alicloud:ecs/getImages:getImages"]
    assert call.args["nameRegex"] != default_call.args["nameRegex"]


def test_bandwidth_zero_means_no_public_ip_and_is_refused() -> None:
    refused(
        deploy(DEV, config={"internetMaxBandwidthOut": 0}),
        "hardened-ecs:internetMaxBandwidthOut",
        "no public IP",
    )


def test_bandwidth_above_the_limit_is_refused() -> None:
    result = deploy(DEV, config={"internetMaxBandwidthOut": 101})
    refused(result, "hardened-ecs:internetMaxBandwidthOut", "between 1 and 100")


def test_unknown_hardening_directive() -> None:
    problem = refused(
        deploy(DEV, config={"hardening": {"profile": "baseline", "set": {"PermitRootLogn": "no"}}}),
        "hardened-ecs:hardening",
        "set.PermitRootLogn",
        "hardening.set.PermitRootLogn",
    )
    assert "unknown" in problem


def test_malformed_hardening_value() -> None:
    refused(
        deploy(DEV, config={"hardening": {"set": {"MaxAuthTries": "lots"}}}),
        "hardened-ecs:hardening",
        "set.MaxAuthTries='lots'",
    )


def test_unknown_hardening_profile() -> None:
    refused(
        deploy(DEV, config={"hardening": {"profile": "paranoid"}}),
        "hardened-ecs:hardening",
        "paranoid",
    )


def test_valid_hardening_overrides_are_accepted() -> None:
    hardening = {"profile": "minimal", "set": {"MaxAuthTries": 3, "X11Forwarding": False}}
    result = deploy(DEV, config={"hardening": hardening})
    assert result.ok, result.config_problems


HARDENING_TYPE = "pulumi-python:dynamic/hardening:SshdHardening"


def test_adopting_an_existing_admin_account_is_an_explicit_boolean_setting() -> None:
    default = deploy(DEV)
    assert default.ok, default.config_problems
    assert all(h.inputs["adoptAdminUser"] is False for h in default.of_type(HARDENING_TYPE))
    adopted = deploy(DEV, config={"hardening": {"adoptAdminUser": True}})
    assert adopted.ok, adopted.config_problems
    hardenings = adopted.of_type(HARDENING_TYPE)
    assert hardenings and all(h.inputs["adoptAdminUser"] is True for h in hardenings)
    refused(
        deploy(DEV, config={"hardening": {"adoptAdminUser": "yes"}}),
        "hardened-ecs:hardening",
        "adoptAdminUser must be true or false",
    )


def test_a_huge_number_in_the_hardening_set_is_refused_not_a_crash() -> None:
    problem = refused(
        deploy(DEV, config={"hardening": {"set": {"MaxAuthTries": "9" * 5000}}}),
        "hardened-ecs:hardening",
        "expected a whole number from 1 to 100",
    )
    assert len(problem) < 2000, problem


@pytest.mark.parametrize("user", ["nobody", "daemon", "sshd", "www-data", "adm"])
def test_system_accounts_are_refused_like_the_cli_refuses_them(user: str) -> None:
    refused(
        deploy(DEV, config={"adminUser": user}),
        "hardened-ecs:adminUser",
        "system or image account",
    )


def test_ssh_port_other_than_22_is_refused_until_supported() -> None:
    refused(deploy(DEV, config={"sshPort": 2222}), "hardened-ecs:sshPort", "only 22")


@pytest.mark.parametrize("key", ["deletionProtection", "elasticIp"])
@pytest.mark.parametrize("bad", ["yes", "on", 1, "", ["true"]], ids=repr)
def test_protection_switches_must_be_true_or_false(key: str, bad: Any) -> None:
    problem = refused(
        deploy(DEV, config={key: bad}), f"hardened-ecs:{key}", "must be true or false"
    )
    assert f"`pulumi config set hardened-ecs:{key} true`" in problem


@pytest.mark.parametrize("key", ["deletionProtection", "elasticIp"])
@pytest.mark.parametrize("good", [True, False, "True", "false"], ids=repr)
def test_protection_switches_take_booleans(key: str, good: Any) -> None:
    result = deploy(DEV, config={key: good})
    assert result.ok, result.config_problems


def test_every_problem_is_reported_at_once() -> None:
    result = deploy(
        DEV,
        config={
            "instanceCount": 0,
            "adminUser": "root",
            "internetMaxBandwidthOut": 0,
            "allowedSshCidrs": ["0.0.0.0/0"],
            "image": "windows-2022",
        },
    )
    keys = sorted(p.split(" ", 1)[0] for p in result.config_problems)
    broken = ("instanceCount", "adminUser", "internetMaxBandwidthOut", "allowedSshCidrs", "image")
    assert keys == sorted(f"hardened-ecs:{k}" for k in broken)
    assert result.resources == ()


def test_the_error_is_one_pulumi_run_error_listing_all_problems() -> None:
    # The language host prints a RunError as its message, without a Python traceback.
    error = ConfigError("dev", ["a: first. Fix: x", "b: second. Fix: y"])
    assert isinstance(error, pulumi.RunError)
    assert error.problems == ["a: first. Fix: x", "b: second. Fix: y"]
    assert str(error).splitlines()[1:] == ["  - a: first. Fix: x", "  - b: second. Fix: y"]


def test_missing_region() -> None:
    result = deploy(DEV, unset=("alicloud:region",))
    assert result.resources == ()
    assert any(p.startswith("alicloud:region is not set") for p in result.config_problems)


# --- the committed files ------------------------------------------------------------------


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
