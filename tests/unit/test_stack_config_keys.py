"""Stack configuration: the login key pair (types, sizes, a private key that does not match or is
not a secret) is refused before any resource, naming key and fix.

Every case runs the real __main__.py (through tools.offline_preview) on the dev stack with one
thing changed, as the update step of `pulumi up`, with an otherwise valid matching key pair.
"""

from __future__ import annotations

import pytest
import yaml

from tests.unit.config_refusal import DEV, refused
from tests.unit.program_preview import ROOT, deploy, ecdsa_pair, ed25519_pair, rsa_pair
from tools.offline_preview import run_offline_preview

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


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
