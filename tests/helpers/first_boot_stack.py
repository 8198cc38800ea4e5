"""A stack's first boot under the real Pulumi engine: its first `pulumi up` makes the boot host
key and the user data that carries it (output ``userData``), a systemd + cloud-init test host
boots from exactly that user data, and the next `up`, with ``host`` and ``privateKey`` set,
hardens it. For the engine projects that take ``publicKey`` and ``host`` (tests/pulumi/
engine_first_boot, engine_hardened_server)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.testhosts.fixtures import unavailable_reason
from tests.testhosts.gate import skip_or_fail
from tests.testhosts.machine import SystemdHost
from tests.testhosts.rootfs import Image
from tools.engine_stack import CliUnavailable, EngineStack, cli_dir

IMAGE = Image("trixie", cloud_init=True)


@dataclass
class FirstBoot:
    stack: EngineStack
    host: SystemdHost
    outputs: dict[str, Any]  # after the first `up` (secrets shown): userData, bootFingerprint


@contextmanager
def first_boot(workdir: Path, project: Path, key: Path) -> Iterator[FirstBoot]:
    """`key` (and `key`.pub): the operator's key pair. The host is stopped on exit."""
    reason = unavailable_reason()
    if reason is not None:
        skip_or_fail(reason)
    if not IMAGE.path.is_dir():
        skip_or_fail(f"no rootfs cache for {IMAGE.name}: run `make testhosts`")
    try:
        cli = cli_dir()
    except CliUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    stack = EngineStack.create(workdir, cli, source=project)
    stack.set_config("publicKey", Path(f"{key}.pub").read_text().strip())
    stack.run("up", "--yes")
    shown = stack.run("stack", "output", "--show-secrets", "--json").stdout
    outputs = json.loads(shown)
    host = SystemdHost(IMAGE, authorized_keys=[], user_data=outputs["userData"])
    try:
        host.start()
        stack.set_config("host", host.address)
        stack.set_config("privateKey", key.read_text(), secret=True)
        stack.run("up", "--yes")
        yield FirstBoot(stack, host, outputs)
    finally:
        host.stop()
