"""Reading and writing sshd_config text: the managed drop-in, the managed block, Include order.

sshd keeps the FIRST value it reads for a keyword, and `Include` globs expand in lexical order
where the Include line stands. Everything here follows from those two rules.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

DROPIN_NAME = "00-hardened-ecs.conf"
BEGIN = "# BEGIN hardened-ecs managed block"
END = "# END hardened-ecs managed block"

_HEADER = (
    "# Managed by hardened-ecs: re-running `python -m hardening apply` rewrites this.\n"
    "# sshd keeps the first value it reads, so these win over later lines and drop-ins.\n"
)


class BrokenBlock(Exception):
    """Our managed block in sshd_config was damaged by hand: we will not guess its end."""


def render_settings(settings: Mapping[str, str]) -> str:
    return "".join(f"{name} {value}\n" for name, value in settings.items())


def render_dropin(settings: Mapping[str, str]) -> str:
    return _HEADER + render_settings(settings)


def strip_block(text: str) -> str:
    """The main file without our managed block.

    A BEGIN without its END was edited by hand: refuse rather than guess where it ended.
    """
    if BEGIN in text and END not in text.split(BEGIN, 1)[1]:
        raise BrokenBlock(
            f"sshd_config has '{BEGIN}' without its END line (edited by hand?); restore the "
            "END line or remove the block, then apply again"
        )
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    inside = False
    for line in lines:
        stripped = line.strip()
        if stripped == BEGIN:
            inside = True
            continue
        if inside:
            if stripped == END:
                inside = False
            continue
        out.append(line)
    return "".join(out)


def with_block(text: str, settings: Mapping[str, str]) -> str:
    """The main file with our block at the very top, where no other line can precede it."""
    return f"{BEGIN}\n{_HEADER}{render_settings(settings)}{END}\n" + strip_block(text)


@dataclass(frozen=True)
class Line:
    number: int  # 1-based, in the file it came from
    keyword: str  # lower-case
    args: str


def parse_lines(text: str) -> list[Line]:
    """Directive lines (comments and blanks dropped); `Keyword=value` is accepted like sshd."""
    out = []
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        # Like sshd: the keyword ends at white space or "=", with any white space around "=".
        m = re.match(r"([^\s=]+)\s*=?\s*(.*)$", line)
        if m is None:
            continue
        out.append(Line(n, m.group(1).lower(), m.group(2).strip()))
    return out


def global_lines(text: str) -> list[Line]:
    """Lines before the first Match: the ones that apply to every connection."""
    out = []
    for line in parse_lines(text):
        if line.keyword == "match":
            break
        out.append(line)
    return out


def _include_patterns(args: str, ssh_dir: str) -> list[str]:
    return [p if p.startswith("/") else posixpath.join(ssh_dir, p) for p in args.split()]


def covering_include(text: str, dropin_dir: str, ssh_dir: str = "/etc/ssh") -> Line | None:
    """The global Include line whose glob picks up our drop-in, if any."""
    target = posixpath.join(dropin_dir, DROPIN_NAME)
    for line in global_lines(text):
        if line.keyword == "include" and any(
            fnmatch.fnmatchcase(target, p) for p in _include_patterns(line.args, ssh_dir)
        ):
            return line
    return None


def keywords_before(text: str, line_number: int) -> set[str]:
    return {ln.keyword for ln in global_lines(text) if ln.number < line_number}


def included_in_order(
    include: Line, dropin_dir: str, existing: Iterable[str], ssh_dir: str = "/etc/ssh"
) -> list[str]:
    """File names in `dropin_dir` the Include line reads, in sshd's order, ours included."""
    names = set(existing) | {DROPIN_NAME}
    patterns = _include_patterns(include.args, ssh_dir)
    return sorted(
        n
        for n in names
        if any(fnmatch.fnmatchcase(posixpath.join(dropin_dir, n), p) for p in patterns)
    )


def validation_main(
    main_text: str,
    include: Line,
    dropin_dir: str,
    existing: Iterable[str],
    staged_dropin: str,
    read_from: Mapping[str, str | None] | None = None,
) -> str:
    """A main file equal to the candidate, but reading our drop-in from its staged path.

    The covering Include is spelled out file by file in glob order, with ours swapped for
    the staged copy, so `sshd -t -f` on it validates exactly what the reload will read.
    `read_from` swaps other drop-ins the change rewrites too (name -> staged path; None:
    one the change removes).
    """
    swap: dict[str, str | None] = {DROPIN_NAME: staged_dropin, **(read_from or {})}
    lines = main_text.splitlines(keepends=True)
    spelled = "".join(
        f"Include {swap.get(n, posixpath.join(dropin_dir, n))}\n"
        for n in included_in_order(include, dropin_dir, existing)
        if swap.get(n, "") is not None
    )
    lines[include.number - 1] = spelled
    return "".join(lines)
