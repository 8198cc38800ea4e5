"""The in-process SSH server (ssh_server.py) for the SSH-layer tests: every one started by a
test is closed when it ends, pass or fail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import paramiko
import pytest

from hardening.ssh.keys import load_private_key
from tests.conftest import ClientKeys
from tests.unit.ssh_server import LoopbackServer, OnExec, new_ed25519_key, run_in_shell


class ServerFactory(Protocol):
    def __call__(
        self,
        *,
        host_keys: list[paramiko.PKey] | None = None,
        authorized: list[Path] | None = None,
        users: frozenset[str] = frozenset({"root"}),
        on_exec: OnExec = run_in_shell,
        auths: str = "publickey",
    ) -> LoopbackServer: ...


@pytest.fixture
def loopback_server(client_keys: ClientKeys, tmp_path: Path) -> Iterator[ServerFactory]:
    """Start LoopbackServers; `authorized` (private key files) defaults to
    `client_keys.installed`, the host keys to one fresh ed25519 key."""
    made: list[LoopbackServer] = []

    def make(
        *,
        host_keys: list[paramiko.PKey] | None = None,
        authorized: list[Path] | None = None,
        users: frozenset[str] = frozenset({"root"}),
        on_exec: OnExec = run_in_shell,
        auths: str = "publickey",
    ) -> LoopbackServer:
        keys = client_keys.installed if authorized is None else authorized
        server = LoopbackServer(
            host_keys=host_keys or [new_ed25519_key()],
            authorized=[load_private_key(path=str(k)) for k in keys],
            users=users,
            on_exec=on_exec,
            auths=auths,
            cwd=str(tmp_path),
        )
        made.append(server)
        return server

    try:
        yield make
    finally:
        for server in made:
            server.close()
