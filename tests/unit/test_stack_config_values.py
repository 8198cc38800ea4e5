"""Stack configuration: each bad value (CIDRs, instance count, admin user, image, bandwidth, port,
switches, region) is refused before any resource, naming key and fix.

Every case runs the real __main__.py (through tools.offline_preview) on the dev stack with one
thing changed, as the update step of `pulumi up`, with an otherwise valid matching key pair.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.config import ANYWHERE_BELOW_PREFIX, ConfigError
from policy.guardrails.ssh_ingress import ANYWHERE_BELOW_PREFIX as POLICY_LIMITS
from tests.unit.config_refusal import DEV, refused
from tests.unit.program_preview import deploy

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


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


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ("ssh", "must be a TCP port number, got 'ssh'"),
        ("22.5", "must be a TCP port number"),
        (0, "must be from 1 to 65535, got 0"),
        (65536, "must be from 1 to 65535, got 65536"),
        (-22, "must be from 1 to 65535"),
    ],
    ids=repr,
)
def test_ssh_port_not_a_port_is_refused_with_the_fix(bad: Any, says: str) -> None:
    problem = refused(deploy(DEV, config={"sshPort": bad}), "hardened-ecs:sshPort", says)
    assert "`pulumi config set hardened-ecs:sshPort 2222`" in problem.split("Fix: ", 1)[1]


@pytest.mark.parametrize("port", [80, 443, 23, 1, 1023])
def test_a_well_known_port_other_than_22_needs_allow_privileged_ssh_port(port: int) -> None:
    problem = refused(
        deploy(DEV, config={"sshPort": port}),
        "hardened-ecs:sshPort",
        f"is {port}, a well-known port of another service",
    )
    assert "`pulumi config set hardened-ecs:allowPrivilegedSshPort true`" in problem
    allowed = deploy(DEV, config={"sshPort": port, "allowPrivilegedSshPort": True})
    assert allowed.ok, allowed.config_problems


@pytest.mark.parametrize("port", [22, 1024, 2222, 65535])
def test_ssh_port_22_or_from_1024_is_accepted(port: int) -> None:
    result = deploy(DEV, config={"sshPort": port})
    assert result.ok, result.config_problems


@pytest.mark.parametrize("name", ["Port", "port"])
def test_the_port_in_hardening_set_is_refused_for_ssh_port(name: str) -> None:
    problem = refused(
        deploy(DEV, config={"hardening": {"profile": "baseline", "set": {name: "2222"}}}),
        "hardened-ecs:hardening",
        f"set.{name} is not where the SSH port goes",
    )
    assert "`pulumi config set hardened-ecs:sshPort 2222`" in problem


def test_allow_privileged_ssh_port_must_be_true_or_false() -> None:
    refused(
        deploy(DEV, config={"allowPrivilegedSshPort": "yes"}),
        "hardened-ecs:allowPrivilegedSshPort",
        "must be true or false",
    )


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
