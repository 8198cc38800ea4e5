"""Fixtures of the real-host tests (the hosts themselves: tests/conftest.py, tests/testhosts/)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ClientKeys, HostFactory
from tests.helpers.fault_proofs import FaultCase, FaultCaseFactory, cli_for
from tests.hosts.hardening_case import VARIANTS, Case, Variant


@pytest.fixture
def fault_case(
    host_factory: HostFactory, client_keys: ClientKeys, tmp_path: Path
) -> FaultCaseFactory:
    """`host, key, cli = fault_case("bullseye", **host_factory_options)`: the setup a fault
    test starts from (a started chroot host, the ed25519 key, known_hosts in tmp_path)."""

    def make(suite: str = "bookworm", **options: Any) -> FaultCase:
        host = host_factory(suite, **options)
        key = client_keys.ed25519
        return FaultCase(host, key, cli_for(host, key, tmp_path))

    return make


@pytest.fixture(params=VARIANTS, ids=[v.id for v in VARIANTS])
def case(
    request: pytest.FixtureRequest,
    host_factory: HostFactory,
    client_keys: ClientKeys,
    tmp_path: Path,
) -> Iterator[Case]:
    """One fresh host per variant for the hardening proofs (tests/hosts/test_hardening_*.py)."""
    variant: Variant = request.param
    key: Path = getattr(client_keys, variant.key)
    host = host_factory(variant.suite, include=variant.include, cloud_init=True)
    yield Case(variant, host, key, tmp_path / "known_hosts")
