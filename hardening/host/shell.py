"""The on-host shell's plumbing, shared by facts.sh and txn.sh: the one templating scheme
(`assign`: `NAME='value'` lines in front of a script), scripts as they go over the wire
(`shipped`), and common.sh with what it takes from the host (`shared_shell`)."""

from __future__ import annotations

import base64
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, fields
from importlib import resources

# The section prefix of a script's output (facts.sh's sections, the staging's candidate).
SECTION = "@@"
# facts.sh: `sshd -T`'s exit status after its output.
SSHD_RC = "@rc="


@dataclass(frozen=True)
class HostShell:
    """What the shared shell (common.sh) takes from the host; a test points it elsewhere."""

    PATH: str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    PRIVSEP_DIR: str = "/run/sshd"  # sshd -t/-T refuse to run without it
    PID_FILES: str = "/run/sshd.pid /var/run/sshd.pid"  # the listener's, first one found


HOST_SHELL = HostShell()  # a real host's


def script_text(name: str, package: str = "hardening.host") -> str:
    """A script as written, from the `scripts/` folder of the layer that runs it."""
    return resources.files(package).joinpath(f"scripts/{name}").read_text()


def shipped(name: str, package: str = "hardening.host") -> str:
    """A script as it goes over the wire: without its comment lines (the source keeps them,
    the host does not need them: fewer bytes in the first flight of every command)."""
    lines = script_text(name, package).splitlines(keepends=True)
    return "".join(ln for ln in lines if not ln.lstrip().startswith("#"))


def assign(values: Mapping[str, object]) -> str:
    """The one templating scheme: `NAME='value'` lines in front of a script's text."""
    return "".join(f"{k}={shlex.quote(str(v))}\n" for k, v in values.items())


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def shared_shell(shell: HostShell = HOST_SHELL) -> str:
    """common.sh with what it takes from the host: the start of facts.sh and of txn.sh."""
    return assign({f.name: getattr(shell, f.name) for f in fields(shell)}) + shipped("common.sh")
