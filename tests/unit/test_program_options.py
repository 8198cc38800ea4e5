"""The real __main__.py under Pulumi's mocks, one stack setting at a time: protection, elastic IPs,
images, login keys, an existing vSwitch, the zone, IPv6 and ECDSA keys.
"""

from __future__ import annotations

import pytest

from tests.unit.program_preview import (
    EIP,
    EIP_ASSOCIATION,
    GET_IMAGES,
    GET_ZONES,
    GROUP,
    INSTANCE,
    KEY_PAIR,
    ROOT,
    RULE,
    SWITCH,
    VPC,
    deploy,
    ecdsa_pair,
    one,
)
from tools.offline_preview import run_offline_preview

# pulumi_alicloud warns about its own deprecated resources when it is imported.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.mark.parametrize("key", ["deletionProtection", "elasticIp"])
def test_deletion_protection_and_elastic_ip_are_independent(key: str) -> None:
    result = deploy(ROOT / "Pulumi.dev.yaml", config={key: True})
    assert result.ok, result.config_problems
    instance = one(result, INSTANCE)
    assert instance.inputs["deletionProtection"] is (key == "deletionProtection")
    assert bool(result.of_type(EIP)) is (key == "elasticIp")
    assert bool(result.of_type(EIP_ASSOCIATION)) is (key == "elasticIp")
    assert instance.inputs["internetMaxBandwidthOut"] == (0 if key == "elasticIp" else 5)


@pytest.mark.parametrize("image_id", [None, "m-bp1pinned0image"], ids=["looked-up", "pinned"])
def test_an_image_id_counts_at_creation_only_pinned_or_not(image_id: str | None) -> None:
    # pulumi-alicloud 4.0 applies a new image_id by replacing the system disk in place: same
    # instance and IP, so the sshd hardening would not run again. Adding, changing or removing
    # imageId later must reach no running server (`pulumi up --replace` rebuilds deliberately).
    result = deploy(ROOT / "Pulumi.dev.yaml", config={"imageId": image_id} if image_id else {})
    assert result.ok, result.config_problems
    looked_up = [i for i in result.invokes if i.token == GET_IMAGES]
    instance = one(result, INSTANCE)
    if image_id is None:
        assert len(looked_up) == 1 and instance.inputs["imageId"].startswith("m-mock")
    else:
        assert not looked_up and instance.inputs["imageId"] == image_id
    assert "imageId" in instance.ignore_changes


def test_a_new_login_key_reboots_no_running_server_and_leaves_the_old_pair() -> None:
    # A new sshPublicKey replaces the key pair; the instances keep theirs (a new key_name would
    # reboot them for a root key nobody uses), and the old pair, still bound to them and so
    # not deletable at Alibaba, is left there instead of failing the update.
    result = deploy(ROOT / "Pulumi.dev.yaml")
    assert "keyName" in one(result, INSTANCE).ignore_changes
    assert one(result, KEY_PAIR).retain_on_delete
    assert not any(r.retain_on_delete for r in result.resources if r.type != KEY_PAIR)


@pytest.mark.parametrize("protected", [True, False])
def test_eips_follow_deletion_protection(protected: bool) -> None:
    result = deploy(
        ROOT / "Pulumi.dev.yaml", config={"elasticIp": True, "deletionProtection": protected}
    )
    assert result.ok, result.config_problems
    assert one(result, EIP).inputs.get("deletionProtection", False) is protected
    assert one(result, INSTANCE).inputs["deletionProtection"] is protected


def test_an_existing_vswitch_is_used_instead_of_a_new_network() -> None:
    result = deploy(ROOT / "Pulumi.dev.yaml", config={"vswitchId": "vsw-existing1"})
    assert result.ok, result.config_problems
    assert not result.of_type(VPC) and not result.of_type(SWITCH)
    assert one(result, GROUP).inputs["vpcId"] == "vpc-existing"
    assert one(result, INSTANCE).inputs["vswitchId"] == "vsw-existing1"
    assert result.outputs["vswitchId"].value == "vsw-existing1"


def test_zone_is_chosen_for_the_instance_type_unless_configured() -> None:
    chosen = deploy(ROOT / "Pulumi.dev.yaml")
    (zones,) = [i for i in chosen.invokes if i.token == GET_ZONES]
    assert zones.args["availableInstanceType"] == "ecs.t6-c1m2.large"
    assert zones.args["availableDiskCategory"] == "cloud_essd"
    assert one(chosen, SWITCH).ignore_changes == ("zoneId",)

    fixed = deploy(ROOT / "Pulumi.dev.yaml", config={"zoneId": "cn-hangzhou-k"})
    assert not [i for i in fixed.invokes if i.token == GET_ZONES]
    assert one(fixed, SWITCH).inputs["zoneId"] == "cn-hangzhou-k"
    assert one(fixed, SWITCH).ignore_changes == ()


def test_ipv6_cidrs_get_ipv6_rules_and_removing_one_cidr_keeps_the_others() -> None:
    both = deploy(
        ROOT / "Pulumi.dev.yaml",
        config={"allowedSshCidrs": ["203.0.113.0/24", "2001:db8:1::/48"]},
    )
    assert both.ok, both.config_problems
    by_source = {r.inputs.get("cidrIp") or r.inputs["ipv6CidrIp"]: r for r in both.of_type(RULE)}
    assert "cidrIp" not in by_source["2001:db8:1::/48"].inputs

    fewer = deploy(ROOT / "Pulumi.dev.yaml", config={"allowedSshCidrs": ["2001:db8:1::/48"]})
    assert [r.urn for r in fewer.of_type(RULE)] == [by_source["2001:db8:1::/48"].urn]


def test_ecdsa_keys_are_accepted_and_named_in_the_ssh_command() -> None:
    public, private = ecdsa_pair()
    result = run_offline_preview(
        ROOT / "Pulumi.dev.yaml",
        ROOT,
        config={"sshPublicKey": public},
        secrets={"sshPrivateKey": private},
        preview=False,
    )
    assert result.ok, result.config_problems
    (server,) = result.outputs["servers"].value.values()
    assert server["sshCommand"].startswith("ssh -i ~/.ssh/id_ecdsa ")
