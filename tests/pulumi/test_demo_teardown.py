"""`make demo`'s teardown (tools/demo.py) under the real CLI: the stack goes with its resources,
and the CLI does not tell the user to run `pulumi stack rm` that the demo made unnecessary."""

from __future__ import annotations

from pathlib import Path

from tools.demo import DESTROY
from tools.engine_stack import EngineStack


def test_the_demo_teardown_removes_the_stack_without_the_stack_rm_hint(
    tmp_path: Path, cli: Path
) -> None:
    stack = EngineStack.create(tmp_path, cli, "demo")
    step = stack.run(*DESTROY)
    assert "pulumi stack rm" not in step.output, step.output
    assert "history and configuration removed" in step.output, step.output
    assert stack.run("stack", "ls", "--json", stack_arg=False).stdout.strip() == "[]"
    assert not (stack.project / "Pulumi.demo.yaml").exists()
