"""A stack of a Pulumi project under the real Pulumi CLI, in a directory of its own.

By default tests/pulumi/engine_project (tests/pulumi/test_pulumi_engine.py, `make demo`); the real
program in tests/pulumi/test_pulumi_program_config.py. The work directory is laid out like the
repository: the program as `__main__.py` beside `Pulumi.yaml` (copies, so the stack file and state
stay out of the repository), and links to the repository's `components`, `hardening` and `venv`.
Nothing is put on PYTHONPATH: the program imports `components` from its own directory, and the
engine's provider process (`python -m pulumi.dynamic`, started there) unpickles the provider from
it, as in a real checkout. The state is a local file backend, secrets use the passphrase provider,
and the CLI neither checks for updates nor downloads plugins. Every invocation is kept
(`transcript`) so a test can scan all of it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "tests" / "pulumi" / "engine_project"
CLI_SCRIPT = ROOT / "scripts" / "pulumi-cli.sh"
LINKED = ("components", "hardening", "venv")  # what the program and the provider import/run
PASSPHRASE = "engine-test-passphrase"  # a throwaway stack's; protects nothing else
TIMEOUT = 900.0  # one CLI call; a hung engine fails the run instead of blocking it


class CliUnavailable(RuntimeError):
    """scripts/pulumi-cli.sh found no CLI and could not build one; its message says both ways."""


def cli_dir() -> Path:
    """The directory with pulumi and its Python helpers (built and cached on first use)."""
    proc = subprocess.run(
        [str(CLI_SCRIPT)], stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise CliUnavailable(proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed")
    return Path(proc.stdout.strip())


@dataclass(frozen=True)
class Step:
    """One CLI invocation and what it printed."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def describe(self) -> str:
        return f"pulumi {' '.join(self.args)} -> {self.returncode}\n{self.output}"


@dataclass
class EngineStack:
    workdir: Path
    cli: Path
    stack: str = "test"
    transcript: list[Step] = field(default_factory=list)

    @property
    def project(self) -> Path:
        return self.workdir / "project"

    @property
    def state(self) -> Path:
        return self.workdir / "state"

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        # Imports must work from the project directory alone, and the language host must find
        # the interpreter through Pulumi.yaml's virtualenv.
        env.pop("PYTHONPATH", None)
        env.pop("PULUMI_PYTHON_CMD", None)
        env.update(
            PATH=f"{self.cli}{os.pathsep}{env.get('PATH', '')}",
            PULUMI_HOME=str(self.workdir / "home"),
            PULUMI_BACKEND_URL=f"file://{self.state}",
            PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
            PULUMI_SKIP_UPDATE_CHECK="1",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
            PULUMI_SKIP_CONFIRMATIONS="1",
            NO_COLOR="1",
        )
        return env

    @property
    def project_name(self) -> str:
        name: str = yaml.safe_load((self.project / "Pulumi.yaml").read_text())["name"]
        return name

    @classmethod
    def create(
        cls,
        workdir: Path,
        cli: Path,
        stack: str = "test",
        source: Path = PROJECT,
        program: str = "program.py",
    ) -> EngineStack:
        """A new stack of the project in `source` (`program` becomes `__main__.py`)."""
        s = cls(workdir, cli, stack)
        s.project.mkdir(parents=True)
        s.state.mkdir()
        shutil.copy(source / "Pulumi.yaml", s.project / "Pulumi.yaml")
        shutil.copy(source / program, s.project / "__main__.py")
        for name in LINKED:
            (s.project / name).symlink_to((ROOT / name).resolve())
        s.run("stack", "init", stack, "--secrets-provider", "passphrase", stack_arg=False)
        return s

    def command(self, *args: str, stack_arg: bool = True) -> list[str]:
        extra = ["--stack", self.stack] if stack_arg else []
        return [str(self.cli / "pulumi"), *args, *extra, "--non-interactive", "--color", "never"]

    def run(
        self, *args: str, check: bool = True, stack_arg: bool = True, stdin: str | None = None
    ) -> Step:
        proc = subprocess.run(
            self.command(*args, stack_arg=stack_arg),
            cwd=self.project,
            env=self.env,
            input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        step = Step(tuple(args), proc.returncode, proc.stdout, proc.stderr)
        self.transcript.append(step)
        if check and step.returncode != 0:
            raise AssertionError(step.describe())
        return step

    def popen(self, *args: str, log: Path) -> subprocess.Popen[bytes]:
        """Start a CLI call in its own process group (so a test can kill all of it at once)."""
        with log.open("wb") as out:
            return subprocess.Popen(
                self.command(*args),
                cwd=self.project,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def record(self, args: tuple[str, ...], returncode: int, output: str) -> None:
        self.transcript.append(Step(args, returncode, output, ""))

    def set_config(self, key: str, value: str, *, secret: bool = False, path: bool = False) -> None:
        flags = (["--secret"] if secret else []) + (["--path"] if path else [])
        # The value on stdin: a secret never appears on a command line.
        self.run("config", "set", *flags, key, stdin=value)

    def set_object(self, key: str, value: Any) -> None:
        """A structured (non-secret) value, written into the stack file as YAML."""
        path = self.project / f"Pulumi.{self.stack}.yaml"
        doc = yaml.safe_load(path.read_text()) if path.exists() else None
        doc = doc or {}
        doc.setdefault("config", {})[f"{self.project_name}:{key}"] = value
        path.write_text(yaml.safe_dump(doc, sort_keys=False))

    def outputs(self) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.run("stack", "output", "--json").stdout)
        return out

    def export(self) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.run("stack", "export").stdout)
        return out

    def resources(self, type_: str) -> list[dict[str, Any]]:
        deployment = self.export()["deployment"]
        return [r for r in deployment.get("resources") or [] if r["type"] == type_]

    def state_files(self) -> list[Path]:
        """Every file the file backend wrote (stack checkpoints, backups, history)."""
        return sorted(p for p in self.state.rglob("*") if p.is_file())
