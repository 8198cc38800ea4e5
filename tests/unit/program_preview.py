"""The real __main__.py run under Pulumi's mocks as `pulumi up` runs it, the test key pairs it
needs, and the resource types the program tests look for.

Keys are generated here: the committed stacks carry a placeholder public key whose private half
does not exist, so each run injects a matching pair (the private key as a secret).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from tools.offline_preview import PreviewResult, RegisteredResource, run_offline_preview

ROOT = Path(__file__).resolve().parents[2]
STACK_FILES = sorted(ROOT.glob("Pulumi.*.yaml"))

VPC = "alicloud:vpc/network:Network"
SWITCH = "alicloud:vpc/switch:Switch"
GROUP = "alicloud:ecs/securityGroup:SecurityGroup"
RULE = "alicloud:ecs/securityGroupRule:SecurityGroupRule"
KEY_PAIR = "alicloud:ecs/ecsKeyPair:EcsKeyPair"
INSTANCE = "alicloud:ecs/instance:Instance"
EIP = "alicloud:ecs/eipAddress:EipAddress"
EIP_ASSOCIATION = "alicloud:ecs/eipAssociation:EipAssociation"
SERVER = "hardened-ecs:hardened_server:HardenedServer"  # components/hardened_server.py
# The dynamic resource of components/sshd_hardening/ (test_sshd_hardening_*.py cover it).
HARDENING = "pulumi-python:dynamic/hardening:SshdHardening"
# components/host_key.py: each server's boot host key (its provider runs under these mocks).
BOOT_KEY = "pulumi-python:dynamic/hardening:BootHostKey"
GET_IMAGES = "alicloud:ecs/getImages:getImages"
GET_ZONES = "alicloud:index/getZones:getZones"


@functools.cache
def rsa_pair(bits: int = 3072, seed: int = 0) -> tuple[str, str]:
    """(public line, OpenSSH private key); ``seed`` only tells distinct pairs apart."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return _pair(key, f"test-{bits}-{seed}")


@functools.cache
def ecdsa_pair() -> tuple[str, str]:
    return _pair(ec.generate_private_key(ec.SECP256R1()), "test-ecdsa")


@functools.cache
def ed25519_public() -> str:
    return ed25519_pair()[0]


def ed25519_pair() -> tuple[str, str]:
    return _pair(ed25519.Ed25519PrivateKey.generate(), "test-ed25519")


def _pair(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey, comment: str
) -> tuple[str, str]:
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    return f"{public.decode()} {comment}", private.decode()


def deploy(
    stack_file: Path,
    *,
    preview: bool = False,
    config: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    unset: tuple[str, ...] = (),
) -> PreviewResult:
    """Run the program as the update step of `pulumi up`, with a matching key pair injected."""
    public, private = rsa_pair()
    injected = {"sshPrivateKey": private, **(secrets or {})}
    return run_offline_preview(
        stack_file,
        ROOT,
        config={"sshPublicKey": public, **(config or {})},
        secrets={k: v for k, v in injected.items() if k not in unset},
        unset=unset,
        preview=preview,
    )


def stack_config(stack_file: Path) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(stack_file.read_text())["config"]
    return config


def flag(stack_file: Path, key: str) -> bool:
    """A boolean stack setting (deletionProtection, elasticIp); false unless the file sets it."""
    value = stack_config(stack_file).get(f"hardened-ecs:{key}", False)
    assert isinstance(value, bool), (key, value)
    return value


def one(result: PreviewResult, type_token: str) -> RegisteredResource:
    found = result.of_type(type_token)
    assert len(found) == 1, f"expected one {type_token}, got {[r.name for r in found]}"
    return found[0]


def component_of(result: PreviewResult, resource: RegisteredResource) -> str:
    assert resource.parent is not None
    if resource.parent == result.stack_urn:
        return "pulumi:pulumi:Stack"
    return result.by_urn(resource.parent).type


def all_text(result: PreviewResult) -> str:
    """Every input and output value of the run, as one searchable text."""
    return json.dumps(
        [
            [r.inputs for r in result.resources],
            {k: v.value for k, v in result.outputs.items()},
            [i.args for i in result.invokes],
            list(result.messages),
        ],
        default=str,
    )
