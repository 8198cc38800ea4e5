"""pytest fixtures for systemd-booted test hosts (loaded by tests/conftest.py).

Tests using `systemd_factory` are marked `host` and `systemd`. Where such hosts cannot run
they are skipped with the reason, except under CI=true, where that is an error.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest

from tests.testhosts.gate import skip_or_fail, stop_hosts
from tests.testhosts.machine import CGROUP_ROOTS, SystemdHost
from tests.testhosts.rootfs import Image


@functools.cache
def unavailable_reason() -> str | None:
    if os.geteuid() != 0:
        return "systemd test hosts need root (nspawn, mounts, bridges)"
    for tool in ("systemd-nspawn", "nsenter", "setpriv", "ip", "mount", "ssh", "ssh-keygen"):
        if shutil.which(tool) is None:
            return f"`{tool}` not found: run `make deps` (scripts/install-test-deps.sh)"
    if not CGROUP_ROOTS[0].is_dir():
        return f"no {CGROUP_ROOTS[0]} hierarchy for the hosts' cgroups"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "systemd_factory" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.host)
            item.add_marker(pytest.mark.systemd)


class SystemdFactory(Protocol):
    def __call__(
        self, image: Image | str = "trixie", *, wait: bool = True, **options: Any
    ) -> SystemdHost: ...


@pytest.fixture
def systemd_factory(client_keys: Any) -> Iterator[SystemdFactory]:
    """Start SystemdHosts (root's authorized_keys: the session's installed client keys);
    every one is stopped when the test ends, pass or fail."""
    reason = unavailable_reason()
    if reason is not None:
        skip_or_fail(reason)
    made: list[SystemdHost] = []

    def make(image: Image | str = "trixie", *, wait: bool = True, **options: Any) -> SystemdHost:
        img = image if isinstance(image, Image) else Image(image)
        if not img.path.is_dir():
            skip_or_fail(f"no rootfs cache for {img.name}: run `make testhosts`")
        keys = [Path(f"{k}.pub").read_text() for k in client_keys.installed]
        host = SystemdHost(img, authorized_keys=options.pop("authorized_keys", keys), **options)
        made.append(host)
        return host.start(wait=wait)

    try:
        yield make
    finally:
        stop_hosts(made, "systemd hosts")
