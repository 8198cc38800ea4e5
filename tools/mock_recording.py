"""Recording what the program asks Pulumi's mock monitor for: resources (inputs with secrets
unwrapped, dependencies, options), stack outputs, provider look-ups and its log messages."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from pulumi.runtime import Mocks, rpc
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.sync_await import _ensure_event_loop as _sdk_ensure_event_loop

from tools.preview_result import InvokeCall, RegisteredResource

_STACK_TYPE = "pulumi:pulumi:Stack"


def ensure_event_loop() -> asyncio.AbstractEventLoop:
    # Monitor calls arrive on executor threads; deserializing needs a loop there (as in the SDK).
    loop: asyncio.AbstractEventLoop = _sdk_ensure_event_loop()  # type: ignore[no-untyped-call]
    return loop


def unwrap_secrets(value: Any) -> tuple[Any, bool]:
    """Strip the RPC secret wrappers from a value; report whether any were present."""
    if rpc.is_rpc_secret(value):
        inner, _ = unwrap_secrets(rpc.unwrap_rpc_secret(value))
        return inner, True
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        secret = False
        for k, v in value.items():
            out[k], s = unwrap_secrets(v)
            secret = secret or s
        return out, secret
    if isinstance(value, list):
        items = [unwrap_secrets(v) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


def _alias(alias: Any) -> dict[str, Any]:
    """An alias as the engine receives it: a URN, or the spec fields the program set."""
    if alias.WhichOneof("alias") == "urn":
        return {"urn": alias.urn}
    spec = alias.spec
    found = {k: getattr(spec, k) for k in ("name", "type", "stack", "project") if getattr(spec, k)}
    parent = spec.WhichOneof("parent")
    if parent is not None:
        found[parent] = getattr(spec, parent)
    return found


class RecordingMonitor(MockMonitor):
    """Pulumi's mock monitor, also keeping what the program asked for, in order."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.lock = threading.Lock()
        self.registered: list[RegisteredResource] = []
        self.invoked: list[InvokeCall] = []
        self.stack_outputs: dict[str, Any] = {}
        self.component_outputs: dict[str, dict[str, Any]] = {}
        self.stack_urn = ""
        # Event loops the SDK opens on executor threads; closed after the run, else their
        # garbage collection at exit prints "Invalid file descriptor" noise.
        self.thread_loops: set[asyncio.AbstractEventLoop] = set()

    def _track_loop(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            loop = ensure_event_loop()
            with self.lock:
                self.thread_loops.add(loop)

    def RegisterResource(self, request: Any) -> Any:
        self._track_loop()
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == _STACK_TYPE:
            self.stack_urn = response.urn
            return response
        ensure_event_loop()
        raw = rpc.deserialize_properties(request.object)
        inputs: dict[str, Any] = {}
        secret_inputs: set[str] = set()
        for key, value in raw.items():
            inputs[key], secret = unwrap_secrets(value)
            if secret:
                secret_inputs.add(key)
        deps = frozenset(request.dependencies)
        from_inputs = {urn for prop in request.propertyDependencies.values() for urn in prop.urns}
        record = RegisteredResource(
            type=request.type,
            name=request.name,
            urn=response.urn,
            id=response.id,
            parent=request.parent or None,
            custom=bool(request.custom),
            inputs=inputs,
            secret_inputs=frozenset(secret_inputs),
            dependencies=deps,
            explicit_dependencies=frozenset(deps - from_inputs),
            ignore_changes=tuple(request.ignoreChanges),
            additional_secret_outputs=tuple(request.additionalSecretOutputs),
            replace_with=frozenset(request.replace_with),
            delete_before_replace=bool(request.deleteBeforeReplace),
            retain_on_delete=bool(request.HasField("retainOnDelete") and request.retainOnDelete),
            aliases=tuple(_alias(a) for a in request.aliases),
        )
        with self.lock:
            self.registered.append(record)
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        self._track_loop()
        if "::" + _STACK_TYPE + "::" in request.urn:
            ensure_event_loop()
            self.stack_outputs = rpc.deserialize_properties(request.outputs)
        else:
            ensure_event_loop()
            outputs = rpc.deserialize_properties(request.outputs)
            with self.lock:
                self.component_outputs[request.urn] = unwrap_secrets(outputs)[0]
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]

    def Invoke(self, request: Any) -> Any:
        self._track_loop()
        args, _ = unwrap_secrets(rpc.deserialize_properties(request.args))
        with self.lock:
            self.invoked.append(InvokeCall(token=request.tok, args=args))
        return super().Invoke(request)  # type: ignore[no-untyped-call]


class LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)  # the SDK's DEBUG chatter is not the program's
        self.records: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.levelname, record.getMessage()))
