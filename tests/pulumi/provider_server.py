"""Playing the Pulumi engine's part for tests/pulumi/test_sshd_hardening_grpc.py: the dynamic
provider server started as the ``pulumi-resource-pulumi-python`` shim starts it, the engine's
Log service it calls back, and the ResourceProvider requests and messages the test sends.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import threading
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2  # type: ignore[import-untyped]
from google.protobuf.message import Message  # type: ignore[import-untyped]
from pulumi.runtime.proto import engine_pb2_grpc, provider_pb2, provider_pb2_grpc

ROOT = Path(__file__).resolve().parents[2]
URN = (
    "urn:pulumi:test::hardened-ecs::hardened-ecs:server:Server"
    "$pulumi-python:dynamic/hardening:SshdHardening::server-0-sshd"
)
PROVIDER_URN = "urn:pulumi:test::hardened-ecs::pulumi:providers:pulumi-python::default"
FAKE_FINGERPRINT = "SHA256:" + "A" * 43
NOT_A_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n"


def project_python() -> str:
    """What the shim runs: <virtualenv from Pulumi.yaml>/bin/python, relative to the project."""
    runtime = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["runtime"]
    venv = runtime.get("options", {}).get("virtualenv")
    candidate = ROOT / venv / "bin" / "python" if venv else None
    return str(candidate) if candidate and candidate.exists() else sys.executable


class _Engine(engine_pb2_grpc.EngineServicer):
    """Stands in for the engine's log service, whose address the shim passes as argv[1]."""

    def __init__(self) -> None:
        self.logs: list[str] = []

    def Log(self, request: Any, context: Any) -> empty_pb2.Empty:
        self.logs.append(request.message)
        return empty_pb2.Empty()


class ProviderServer:
    """`python -u -m pulumi.dynamic ENGINE` in the project directory, as the engine starts it."""

    def __init__(self) -> None:
        self.engine = _Engine()
        self._engine_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        engine_pb2_grpc.add_EngineServicer_to_server(self.engine, self._engine_server)
        engine_port = self._engine_server.add_insecure_port("127.0.0.1:0")
        self._engine_server.start()
        self.proc = subprocess.Popen(
            [project_python(), "-u", "-m", "pulumi.dynamic", f"127.0.0.1:{engine_port}"],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None and self.proc.stderr is not None
        self.stderr_lines: list[str] = []
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()
        first = self.proc.stdout.readline()
        if not first.strip().isdigit():
            self.close()
            raise RuntimeError(f"provider did not print its port: {first!r} {self.stderr}")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{int(first)}")
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)
        # Every response and error text, for the key scan at the end.
        self.seen: list[tuple[str, Message | str]] = []

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr_lines.append(line)

    @property
    def stderr(self) -> str:
        return "".join(self.stderr_lines)

    def call(self, method: str, request: Message) -> Any:
        try:
            response = getattr(self.stub, method)(request, timeout=600)
        except grpc.RpcError as exc:
            self.seen.append((f"{method} error", str(exc.details())))
            raise
        self.seen.append((method, response))
        return response

    def close(self) -> None:
        if getattr(self, "channel", None) is not None:
            self.channel.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._drain.join(timeout=30)
        self._engine_server.stop(0)


def struct(values: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(values)
    return s


def plain(s: struct_pb2.Struct) -> dict[str, Any]:
    value: dict[str, Any] = json_format.MessageToDict(s)
    return value


def fingerprint_of(public_line: str) -> str:
    blob = base64.b64decode(public_line.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def key_fragments(key_text: str) -> list[str]:
    """Every base64 line of the private key: none may show up outside the privateKey field."""
    return [ln for ln in key_text.strip().splitlines() if "PRIVATE KEY" not in ln and len(ln) > 20]


def without_private_key(message: Message | str) -> bytes:
    """The message, serialized, with the privateKey property (where it is an input) removed."""
    if isinstance(message, str):
        return message.encode()
    copy = type(message)()
    copy.CopyFrom(message)
    for name in ("inputs", "properties"):
        if copy.DESCRIPTOR.fields_by_name.get(name) is not None and copy.HasField(name):
            props = getattr(copy, name)
            if "privateKey" in props:
                del props["privateKey"]
    data: bytes = copy.SerializeToString() + json_format.MessageToJson(copy).encode()
    return data


def check(server: ProviderServer, news: dict[str, Any], olds: dict[str, Any] | None = None) -> Any:
    return server.call(
        "Check",
        provider_pb2.CheckRequest(
            urn=URN, olds=struct(olds or {}), news=struct(news), name="server-0-sshd"
        ),
    )


def diff(server: ProviderServer, olds: struct_pb2.Struct, news: struct_pb2.Struct) -> Any:
    return server.call(
        "Diff", provider_pb2.DiffRequest(id="x", urn=URN, olds=olds, news=news, old_inputs=news)
    )
