"""Shared fixtures: client key pairs and real OpenSSH test hosts (see tests/testhosts/chroot.py).

Host tests are marked `host` (automatically when they use `host_factory`). Where hosts cannot
run (not root, no working unshare, no rootfs cache) they are skipped with the reason, except
under CI=true, where that is an error: CI must never go green by skipping the real tests.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, Protocol

import pytest

from tests.testhosts.chroot import SUITES, TestHost, rootfs_path
from tests.testhosts.gate import skip_or_fail, stop_hosts

# systemd-booted hosts (systemd_factory): tests/testhosts/fixtures.py
pytest_plugins = ("tests.testhosts.fixtures",)


@functools.cache
def hosts_unavailable_reason() -> str | None:
    """Why test hosts cannot run on this machine, or None if they can."""
    if os.geteuid() != 0:
        return "test hosts need root (namespaces, chroot, mounts)"
    for tool in ("unshare", "nsenter", "setpriv", "chroot", "mount", "ssh", "ssh-keygen"):
        if shutil.which(tool) is None:
            return f"`{tool}` not found: run `make deps` (scripts/install-test-deps.sh)"
    if not any(rootfs_path(s).is_dir() for s in SUITES):
        return f"no rootfs cache under {rootfs_path(SUITES[0]).parent}: run `make testhosts`"
    probe = subprocess.run(
        ["unshare", "--pid", "--mount", "--fork", "true"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        return f"`unshare --pid --mount` does not work here: {probe.stderr.strip()}"
    return None


def _skip_or_fail(reason: str) -> NoReturn:
    skip_or_fail(reason, "test hosts")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Anything that starts hosts is a host test, marked or not (so `-m "not host"` is honest).
    for item in items:
        if "host_factory" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.host)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("host") is not None:
        reason = hosts_unavailable_reason()
        if reason is not None:
            _skip_or_fail(reason)


@dataclass(frozen=True)
class ClientKeys:
    """Client key pairs (private key files 0600, `.pub` beside them) for this test session."""

    ed25519: Path
    ecdsa: Path
    rsa: Path  # 3072 bits: Alibaba's ImportKeyPair takes RSA and ECDSA, not ed25519
    stranger: Path  # ed25519, never installed anywhere: logins with it must fail

    @property
    def installed(self) -> list[Path]:
        """The keys host_factory puts in root's authorized_keys by default."""
        return [self.ed25519, self.ecdsa, self.rsa]

    @staticmethod
    def public(key: Path) -> str:
        return key.with_name(key.name + ".pub").read_text().strip()


@pytest.fixture(scope="session")
def client_keys(tmp_path_factory: pytest.TempPathFactory) -> ClientKeys:
    d = tmp_path_factory.mktemp("client-keys")
    specs = {
        "ed25519": ["-t", "ed25519"],
        "ecdsa": ["-t", "ecdsa", "-b", "256"],
        "rsa": ["-t", "rsa", "-b", "3072"],
        "stranger": ["-t", "ed25519"],
    }
    procs = {
        name: subprocess.Popen(
            [
                "ssh-keygen",
                "-q",
                "-N",
                "",
                "-C",
                f"test-{name}",
                *args,
                "-f",
                str(d / f"id_{name}"),
            ],
            stdin=subprocess.DEVNULL,
        )
        for name, args in specs.items()
    }
    for name, proc in procs.items():
        if proc.wait() != 0:
            raise RuntimeError(f"ssh-keygen for the {name} client key failed")
        (d / f"id_{name}").chmod(0o600)  # ssh refuses group/world-readable keys
    return ClientKeys(**{name: d / f"id_{name}" for name in specs})


@pytest.fixture
def client_key(client_keys: ClientKeys) -> Path:
    """The default client private key (ed25519), installed for root on every host."""
    return client_keys.ed25519


class HostFactory(Protocol):
    def __call__(
        self,
        suite: str = "bookworm",
        *,
        include: bool = True,
        cloud_init: bool = True,
        port: int | None = None,
        authorized_keys: Sequence[str | Path] | None = None,
        source_penalties: bool = False,
        start: bool = True,
    ) -> TestHost: ...


@pytest.fixture
def host_factory(client_keys: ClientKeys) -> Iterator[HostFactory]:
    """Make (and by default start) TestHosts; all of them are stopped when the test ends,
    pass or fail. authorized_keys (public key text, .pub files or private key paths) defaults
    to `client_keys.installed`."""
    reason = hosts_unavailable_reason()
    if reason is not None:
        _skip_or_fail(reason)
    made: list[TestHost] = []

    def make(
        suite: str = "bookworm",
        *,
        include: bool = True,
        cloud_init: bool = True,
        port: int | None = None,
        authorized_keys: Sequence[str | Path] | None = None,
        source_penalties: bool = False,
        start: bool = True,
    ) -> TestHost:
        if not rootfs_path(suite).is_dir():
            _skip_or_fail(f"no rootfs cache for {suite}: run `make testhosts`")
        keys = client_keys.installed if authorized_keys is None else authorized_keys
        host = TestHost(
            suite,
            include=include,
            cloud_init=cloud_init,
            port=port,
            authorized_keys=keys,
            source_penalties=source_penalties,
        )
        made.append(host)
        if start:
            host.start()
        return host

    try:
        yield make
    finally:
        stop_hosts(made, "test hosts")


@pytest.fixture(params=SUITES)
def suite(request: pytest.FixtureRequest) -> str:
    """Parametrizes a test over every Debian suite (OpenSSH 8.4, 9.2, 10.0)."""
    name: str = request.param
    return name
