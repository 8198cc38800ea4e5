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

Its parts: tools/stack_files.py (the configuration), tools/offline_mocks.py (the answers),
tools/mock_recording.py (what the program asked for), tools/preview_result.py (the result).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import runpy
import sys
import traceback
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pulumi.runtime import Mocks, reset_options, run_in_stack, set_all_config
from pulumi.runtime.mocks import MockEngine, MockSettings

from tools.mock_recording import LogCapture, RecordingMonitor, unwrap_secrets
from tools.offline_mocks import OfflineMocks
from tools.preview_result import InvokeCall, PreviewResult, RegisteredResource, StackOutput
from tools.stack_files import as_config_string, full_key, read_stack_files

__all__ = [
    "InvokeCall",
    "OfflineMocks",
    "PreviewResult",
    "RegisteredResource",
    "StackOutput",
    "read_stack_files",
    "run_offline_preview",
]


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
) -> tuple[RecordingMonitor, BaseException | None, list[tuple[str, str]]]:
    reset_options(project=project, stack=stack, root_directory=str(program.parent), preview=preview)
    monitor = RecordingMonitor(mocks)
    capture = LogCapture()
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
        full = full_key(project, key)
        cfg.pop(full, None)
        secret_keys.discard(full)
    for key, value in (config or {}).items():
        full = full_key(project, key)
        cfg[full] = as_config_string(value)
        secret_keys.discard(full)
    for key, value in (secrets or {}).items():
        full = full_key(project, key)
        cfg[full] = as_config_string(value)
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
        value, secret = unwrap_secrets(raw)
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
        component_outputs=dict(monitor.component_outputs),
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
