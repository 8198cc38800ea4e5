"""Pulumi mocks that answer the alicloud resources and look-ups hardened-ecs uses, offline."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

from pulumi.runtime import Mocks
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs

BOOT_HOST_KEY_TYPE = "pulumi-python:dynamic/hardening:BootHostKey"


class OfflineMocks(Mocks):
    """Plausible answers for the alicloud resources and look-ups hardened-ecs uses.

    Addresses come from the documentation ranges: 192.0.2.0/24 for an instance's own public IP
    (only with ``internetMaxBandwidthOut`` > 0, as on Alibaba), 198.51.100.0/24 for EIPs, and
    172.16.1.0/24 private.
    An unknown look-up raises, naming its token, rather than returning a silent empty answer.
    """

    def __init__(self, region: str = "cn-hangzhou") -> None:
        self.region = region
        self._counter = 0
        self._lock = threading.Lock()

    def _next(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        n = self._next()
        inputs: dict[str, Any] = dict(args.inputs)
        state = dict(inputs)
        typ = args.typ
        if typ == "alicloud:vpc/network:Network":
            return f"vpc-mock{n:04d}", state
        if typ == "alicloud:vpc/switch:Switch":
            return f"vsw-mock{n:04d}", state
        if typ == "alicloud:ecs/securityGroup:SecurityGroup":
            return f"sg-mock{n:04d}", state
        if typ == "alicloud:ecs/securityGroupRule:SecurityGroupRule":
            return f"sgr-mock{n:04d}", state
        if typ == "alicloud:ecs/ecsKeyPair:EcsKeyPair":
            name = inputs.get("keyPairName") or f"{inputs.get('keyNamePrefix', 'key-')}mock{n:04d}"
            state["keyPairName"] = name
            # A fake fingerprint, shaped like Alibaba's (MD5 hex); not used for security.
            state["fingerPrint"] = hashlib.md5(
                str(inputs.get("publicKey", "")).encode()
            ).hexdigest()
            return name, state
        if typ == "alicloud:ecs/instance:Instance":
            state["privateIp"] = f"172.16.1.{10 + n % 240}"
            if int(inputs.get("internetMaxBandwidthOut") or 0) > 0:
                state["publicIp"] = f"192.0.2.{10 + n % 240}"
            state["status"] = "Running"
            return f"i-mock{n:04d}", state
        if typ == "alicloud:ecs/eipAddress:EipAddress":
            state["ipAddress"] = f"198.51.100.{10 + n % 240}"
            state["status"] = "Available"
            return f"eip-mock{n:04d}", state
        if typ == "alicloud:ecs/eipAssociation:EipAssociation":
            # The provider's id: "<allocation id>:<instance id>".
            return f"{inputs.get('allocationId')}:{inputs.get('instanceId')}", state
        if typ == BOOT_HOST_KEY_TYPE:
            # The resource's own provider makes the key (it needs nothing but cryptography).
            from components.host_key import BootHostKeyProvider  # the program's own module

            made = BootHostKeyProvider().create(inputs)
            return made.id, {**state, **(made.outs or {})}
        return (f"{args.name}-id" if args.custom else None), state

    def call(self, args: MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        # Always a list of failures: Pulumi's mock monitor iterates it.
        token, a = args.token, args.args
        if token == "alicloud:index/getZones:getZones":
            ids = [f"{self.region}-a", f"{self.region}-b"]
            return {"id": "zones", "ids": ids, "zones": [{"id": z} for z in ids]}, []
        if token == "alicloud:ecs/getImages:getImages":
            digest = hashlib.sha256(str(a.get("nameRegex")).encode()).hexdigest()[:12]
            image = f"m-mock{digest}"
            return {"id": "images", "ids": [image], "images": [{"id": image, "imageId": image}]}, []
        if token == "alicloud:vpc/getSwitches:getSwitches":
            found = [
                {"id": i, "vpcId": "vpc-existing", "zoneId": f"{self.region}-a"}
                for i in a.get("ids") or []
            ]
            return {"id": "vswitches", "ids": [v["id"] for v in found], "vswitches": found}, []
        raise NotImplementedError(f"offline mocks have no answer for invoke {token}")
