"""Run the real Pulumi program offline, under Pulumi's unit-test mocks, for one stack file.

No Pulumi CLI, no cloud credentials, no network: the program's resource registrations and
provider look-ups are answered by mocks, exactly as in Pulumi's own unit-test support
(``pulumi.runtime.Mocks``). The program file itself (``__main__.py``) is executed unchanged, with
the stack's configuration the way the engine would hand it over: the stack file's values, the
project-level defaults from ``Pulumi.yaml``, and secrets marked secret.

Public API (everything else is private)::

    from tools.offline_preview import run_offline_preview

    result = run_offline_preview("Pulumi.dev.yaml")            # project dir: the file's directory
    result.ok                      # True when the program ran to the end
    result.config_problems         # tuple[str, ...]: the config validation problems, if refused
    result.error                   # str | None: any other failure (with traceback)
    result.resources               # tuple[RegisteredResource, ...] in registration order
    result.of_type("alicloud:ecs/instance:Instance")
    result.by_urn(urn)             # one RegisteredResource (KeyError if absent)
    result.outputs["adminUser"]    # StackOutput(value=..., secret=False)
    result.invokes                 # tuple[InvokeCall(token, args), ...]: provider look-ups
    result.messages                # ((severity, text), ...) logged via pulumi.log, INFO and up
    result.stack_urn               # the root stack's URN (parent of top-level resources)

    RegisteredResource: type, name, urn, id (mock id, "" for components), parent, custom,
    inputs (camelCase, secrets unwrapped), secret_inputs, dependencies (all URNs it waits for),
    explicit_dependencies (depends_on only), ignore_changes, additional_secret_outputs,
    replace_with (URNs whose replacement replaces it too), delete_before_replace,
    retain_on_delete.

    read_stack_files(stack_file, project_dir) -> (project, stack, config, secret_keys,
    encrypted_keys): the raw configuration of Pulumi.yaml + the stack file, exactly as handed to
    the program (whose components.config.load_stack_config then checks it).

``run_offline_preview(stack_file, project_dir=None, *, config=None, secrets=None, unset=(),
preview=True, mocks=None) -> PreviewResult``

- ``config`` / ``secrets``: extra or overriding values, keyed ``"namespace:key"`` (a key without a
  namespace gets the project's); non-string values (lists, dicts, ints, bools) are passed as
  JSON, as the engine does for structured config. ``secrets`` are marked secret.
- ``unset``: keys to remove from the stack's configuration (e.g. to test a missing key).
- ``preview``: ``True`` runs as during ``pulumi preview``, ``False`` as during the update step of
  ``pulumi up`` (``pulumi.runtime.is_dry_run()``).
- ``mocks``: a ``pulumi.runtime.Mocks`` to use instead of :class:`OfflineMocks`.

Encrypted values (``secure:``) in a stack file cannot be decrypted offline: such keys are left
unset and listed in ``PreviewResult.encrypted_keys`` unless ``secrets`` supplies them.

Each run executes in a fresh ``contextvars`` context (all Pulumi runtime settings and config are
context variables) with a new event loop, so many runs in one process do not see each other.
Modules the program imports (e.g. ``components``) are imported once per process: run programs
of one project directory per process.

Command line: ``python -m tools.offline_preview Pulumi.dev.yaml [...]`` prints a summary per stack
and exits non-zero when any stack fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import json
import logging
import os
import re
import runpy
import sys
import threading
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime import Mocks, reset_options, rpc, run_in_stack, set_all_config
from pulumi.runtime.mocks import (
    MockCallArgs,
    MockEngine,
    MockMonitor,
    MockResourceArgs,
    MockSettings,
)
from pulumi.runtime.sync_await import _ensure_event_loop as _sdk_ensure_event_loop

__all__ = [
    "InvokeCall",
    "OfflineMocks",
    "PreviewResult",
    "RegisteredResource",
    "StackOutput",
    "read_stack_files",
    "run_offline_preview",
]

_STACK_TYPE = "pulumi:pulumi:Stack"
BOOT_HOST_KEY_TYPE = "pulumi-python:dynamic/hardening:BootHostKey"


@dataclass(frozen=True)
class RegisteredResource:
    """One resource the program registered (custom resource or component)."""

    type: str
    name: str
    urn: str
    id: str  # the mock's physical id; "" for components
    parent: str | None
    custom: bool
    # Inputs as the engine received them, camelCase keys, secrets unwrapped to their values.
    inputs: Mapping[str, Any]
    # Top-level input names whose value is (or contains) a secret.
    secret_inputs: frozenset[str]
    # Every URN the engine orders this resource after (explicit depends_on and inputs).
    dependencies: frozenset[str]
    # Dependencies from ``depends_on`` only: not explained by any input.
    explicit_dependencies: frozenset[str]
    ignore_changes: tuple[str, ...]
    additional_secret_outputs: tuple[str, ...]
    # ``replace_with``: replaced whenever one of these URNs is replaced.
    replace_with: frozenset[str] = frozenset()
    delete_before_replace: bool = False
    retain_on_delete: bool = False


@dataclass(frozen=True)
class StackOutput:
    """A stack export: its resolved value (secrets unwrapped) and whether it is secret."""

    value: Any
    secret: bool


@dataclass(frozen=True)
class InvokeCall:
    """A provider function the program called (e.g. ``alicloud:ecs/getImages:getImages``)."""

    token: str
    args: Mapping[str, Any]


@dataclass(frozen=True)
class PreviewResult:
    """What one offline run of the program did."""

    project: str
    stack: str
    preview: bool
    config_problems: tuple[str, ...]
    error: str | None
    resources: tuple[RegisteredResource, ...]
    outputs: Mapping[str, StackOutput]
    invokes: tuple[InvokeCall, ...]
    # (severity, message) the program logged through pulumi.log, severity e.g. "WARNING".
    messages: tuple[tuple[str, str], ...]
    encrypted_keys: tuple[str, ...] = field(default=())
    # The root pulumi:pulumi:Stack resource (the parent of top-level resources; not in resources).
    stack_urn: str = ""

    @property
    def ok(self) -> bool:
        return not self.config_problems and self.error is None

    def of_type(self, type_token: str) -> tuple[RegisteredResource, ...]:
        return tuple(r for r in self.resources if r.type == type_token)

    def by_urn(self, urn: str) -> RegisteredResource:
        for resource in self.resources:
            if resource.urn == urn:
                return resource
        raise KeyError(urn)


# --- stack configuration -------------------------------------------------------------------


class _PulumiYamlLoader(yaml.SafeLoader):
    """YAML as the Pulumi CLI reads it: only true/false are booleans (``no`` stays a string)."""


_PulumiYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_PulumiYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _read_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        # A SafeLoader subclass: no arbitrary objects.
        data = yaml.load(handle, Loader=_PulumiYamlLoader)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a YAML mapping at the top level")
    return data


def _as_config_string(value: Any) -> str:
    # The engine hands strings over as they are and everything else as JSON.
    return value if isinstance(value, str) else json.dumps(value)


def _is_encrypted(value: Any) -> bool:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return True
        return any(_is_encrypted(v) for v in value.values())
    if isinstance(value, list):
        return any(_is_encrypted(v) for v in value)
    return False


def _full_key(project: str, key: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _stack_name(stack_file: Path) -> str:
    match = re.fullmatch(r"Pulumi\.(.+)\.ya?ml", stack_file.name)
    if not match:
        raise ValueError(f"{stack_file}: a stack file is named Pulumi.<stack>.yaml")
    return match.group(1)


def read_stack_files(
    stack_file: Path, project_dir: Path
) -> tuple[str, str, dict[str, str], set[str], tuple[str, ...]]:
    """(project, stack, config, secret keys, encrypted keys), as the engine would pass them."""
    project_file = project_dir / "Pulumi.yaml"
    project_doc = _read_yaml(project_file)
    project = project_doc.get("name")
    if not isinstance(project, str):
        raise ValueError(f"{project_file}: no project name")

    config: dict[str, str] = {}
    secret_keys: set[str] = set()
    # Project-level values and schema defaults apply unless the stack sets the key.
    for key, decl in (project_doc.get("config") or {}).items():
        full = _full_key(project, key)
        if isinstance(decl, dict) and ("default" in decl or "value" in decl):
            config[full] = _as_config_string(decl.get("value", decl.get("default")))
        elif not isinstance(decl, dict):
            config[full] = _as_config_string(decl)

    encrypted: list[str] = []
    for key, value in (_read_yaml(stack_file).get("config") or {}).items():
        full = _full_key(project, key)
        if _is_encrypted(value):
            # Ciphertext is useless offline: treat the key as unset, but say so.
            config.pop(full, None)
            secret_keys.add(full)
            encrypted.append(full)
            continue
        config[full] = _as_config_string(value)
    stack = _stack_name(stack_file)
    # The CLI refuses a stack that lacks a key Pulumi.yaml declares without a default.
    missing = [
        key
        for key, decl in (project_doc.get("config") or {}).items()
        if isinstance(decl, dict)
        and "default" not in decl
        and "value" not in decl
        and _full_key(project, key) not in config
        and _full_key(project, key) not in secret_keys
    ]
    if missing:
        raise ValueError(
            f"Stack '{stack}' is missing configuration values {', '.join(sorted(missing))}: "
            f"the Pulumi CLI refuses to run it. Set them in {stack_file.name}, or give them a "
            f"default in {project_file.name}"
        )
    return project, stack, config, secret_keys, tuple(encrypted)


# --- mocks ---------------------------------------------------------------------------------


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


# --- recording ----------------------------------------------------------------------------


def _ensure_event_loop() -> asyncio.AbstractEventLoop:
    # Monitor calls arrive on executor threads; deserializing needs a loop there (as in the SDK).
    loop: asyncio.AbstractEventLoop = _sdk_ensure_event_loop()  # type: ignore[no-untyped-call]
    return loop


def _unwrap_secrets(value: Any) -> tuple[Any, bool]:
    """Strip the RPC secret wrappers from a value; report whether any were present."""
    if rpc.is_rpc_secret(value):
        inner, _ = _unwrap_secrets(rpc.unwrap_rpc_secret(value))
        return inner, True
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        secret = False
        for k, v in value.items():
            out[k], s = _unwrap_secrets(v)
            secret = secret or s
        return out, secret
    if isinstance(value, list):
        items = [_unwrap_secrets(v) for v in value]
        return [v for v, _ in items], any(s for _, s in items)
    return value, False


class _RecordingMonitor(MockMonitor):
    """Pulumi's mock monitor, also keeping what the program asked for, in order."""

    def __init__(self, mocks: Mocks) -> None:
        super().__init__(mocks)
        self.lock = threading.Lock()
        self.registered: list[RegisteredResource] = []
        self.invoked: list[InvokeCall] = []
        self.stack_outputs: dict[str, Any] = {}
        self.stack_urn = ""
        # Event loops the SDK opens on executor threads; closed after the run, else their
        # garbage collection at exit prints "Invalid file descriptor" noise.
        self.thread_loops: set[asyncio.AbstractEventLoop] = set()

    def _track_loop(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            loop = _ensure_event_loop()
            with self.lock:
                self.thread_loops.add(loop)

    def RegisterResource(self, request: Any) -> Any:
        self._track_loop()
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == _STACK_TYPE:
            self.stack_urn = response.urn
            return response
        _ensure_event_loop()
        raw = rpc.deserialize_properties(request.object)
        inputs: dict[str, Any] = {}
        secret_inputs: set[str] = set()
        for key, value in raw.items():
            inputs[key], secret = _unwrap_secrets(value)
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
        )
        with self.lock:
            self.registered.append(record)
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:
        self._track_loop()
        if "::" + _STACK_TYPE + "::" in request.urn:
            _ensure_event_loop()
            self.stack_outputs = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]

    def Invoke(self, request: Any) -> Any:
        self._track_loop()
        args, _ = _unwrap_secrets(rpc.deserialize_properties(request.args))
        with self.lock:
            self.invoked.append(InvokeCall(token=request.tok, args=args))
        return super().Invoke(request)  # type: ignore[no-untyped-call]


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)  # the SDK's DEBUG chatter is not the program's
        self.records: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.levelname, record.getMessage()))


# --- running -------------------------------------------------------------------------------


def _ensure_importable(project_dir: Path) -> None:
    """The language host runs the program with its directory first on sys.path; so do we."""
    path = str(project_dir)
    if path not in sys.path:
        sys.path.insert(0, path)
    # A package of the same name from another project would silently be used instead.
    for name in ("components",):
        module = sys.modules.get(name)
        origin = getattr(module, "__file__", None) if module else None
        if origin and not Path(origin).resolve().is_relative_to(project_dir):
            raise RuntimeError(
                f"{name!r} is already imported from {origin}; run one project per process"
            )


def _run_in_fresh_context(
    program: Path,
    project: str,
    stack: str,
    config: dict[str, str],
    secret_keys: set[str],
    preview: bool,
    mocks: Mocks,
) -> tuple[_RecordingMonitor, BaseException | None, list[tuple[str, str]]]:
    reset_options(project=project, stack=stack, root_directory=str(program.parent), preview=preview)
    monitor = _RecordingMonitor(mocks)
    capture = _Capture()
    logger = logging.getLogger(f"offline_preview.{stack}.{id(monitor)}")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(capture)
    MockSettings(
        monitor=monitor,
        monitor_features=set(monitor.GetDeploymentInfo(None).supportedFeatures),  # type: ignore[no-untyped-call]
        engine=MockEngine(logger),
        project=project,
        stack=stack,
        dry_run=preview,
        organization="organization",
        root_directory=str(program.parent),
        callbacks=None,
    )
    set_all_config(config, sorted(secret_keys))

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    failure: BaseException | None = None

    def run_program() -> None:
        # What the language host does with a project directory's __main__.py.
        runpy.run_path(str(program), run_name="__main__")

    try:
        loop.run_until_complete(run_in_stack(run_program))
    except BaseException as exc:  # reported in the result, as the language host does
        failure = exc
    finally:
        # As the language host does: cancel what an aborted program left pending.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
            with contextlib.suppress(BaseException):
                loop.run_until_complete(task)
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        for thread_loop in monitor.thread_loops:
            if not thread_loop.is_running():
                thread_loop.close()
        asyncio.set_event_loop(None)
        logger.removeHandler(capture)
    return monitor, failure, capture.records


def _describe_failure(failure: BaseException) -> tuple[tuple[str, ...], str | None]:
    # The program's config error carries the full list (duck-typed: no import of the program).
    problems = getattr(failure, "problems", None)
    if isinstance(problems, list | tuple) and problems:
        return tuple(str(p) for p in problems), None
    if isinstance(failure, KeyboardInterrupt | SystemExit):
        raise failure
    text = "".join(traceback.format_exception(failure))
    return (), text


def run_offline_preview(
    stack_file: str | os.PathLike[str],
    project_dir: str | os.PathLike[str] | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    unset: Iterable[str] = (),
    preview: bool = True,
    mocks: Mocks | None = None,
) -> PreviewResult:
    """Run ``<project_dir>/__main__.py`` under mocks with the configuration of ``stack_file``."""
    stack_path = Path(stack_file).resolve()
    root = Path(project_dir).resolve() if project_dir is not None else stack_path.parent
    project, stack, cfg, secret_keys, encrypted = read_stack_files(stack_path, root)

    for key in unset:
        full = _full_key(project, key)
        cfg.pop(full, None)
        secret_keys.discard(full)
    for key, value in (config or {}).items():
        full = _full_key(project, key)
        cfg[full] = _as_config_string(value)
        secret_keys.discard(full)
    for key, value in (secrets or {}).items():
        full = _full_key(project, key)
        cfg[full] = _as_config_string(value)
        secret_keys.add(full)
    still_encrypted = tuple(k for k in encrypted if k not in cfg)

    _ensure_importable(root)
    region = cfg.get("alicloud:region", "cn-hangzhou")
    monitor, failure, messages = contextvars.copy_context().run(
        _run_in_fresh_context,
        root / "__main__.py",
        project,
        stack,
        cfg,
        secret_keys,
        preview,
        mocks if mocks is not None else OfflineMocks(region),
    )
    problems, error = _describe_failure(failure) if failure is not None else ((), None)

    outputs: dict[str, StackOutput] = {}
    for name, raw in monitor.stack_outputs.items():
        value, secret = _unwrap_secrets(raw)
        outputs[name] = StackOutput(value=value, secret=secret)
    return PreviewResult(
        project=project,
        stack=stack,
        preview=preview,
        config_problems=problems,
        error=error,
        resources=tuple(monitor.registered),
        outputs=outputs,
        invokes=tuple(monitor.invoked),
        messages=tuple(messages),
        encrypted_keys=still_encrypted,
        stack_urn=monitor.stack_urn,
    )


def main(argv: list[str] | None = None) -> int:
    """Print what each stack file would create; exit 1 when any stack fails."""
    files = (argv if argv is not None else sys.argv[1:]) or sorted(
        str(p) for p in Path.cwd().glob("Pulumi.*.yaml")
    )
    status = 0
    for stack_file in files:
        result = run_offline_preview(stack_file)
        if result.ok:
            print(f"{result.stack}: ok, {len(result.resources)} resources")
            for severity, message in result.messages:
                if severity in ("WARNING", "ERROR"):
                    print(f"  {severity.lower()}: {message}")
            continue
        status = 1
        print(f"{result.stack}: FAILED")
        for problem in result.config_problems:
            print(f"  - {problem}")
        if result.error:
            print(result.error)
    return status


if __name__ == "__main__":
    sys.exit(main())
