"""The operator's terminal: progress on stderr, results on stdout, drawn by rich.

On a terminal that can take it, waits and steps show as one live status line (a spinner, the
fleet's count, each busy host's latest word) and results are coloured; NO_COLOR keeps the live
line without colour. Anywhere else (a pipe, a file, TERM=dumb) the text is exactly the plain
lines, with no escape code: a status (a retry, a held lock) is printed once per change of what
it says, not once per retry.
"""

from __future__ import annotations

import sys
import threading
from typing import IO, Any

from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from hardening.front.display import printable
from hardening.model.progress import Status

# One result line per host, coloured by its exit code (0 done, 1 drift, others failed).
_RESULT_STYLES = {0: "green", 1: "yellow"}


def _console(stream: IO[str]) -> Console:
    # markup/emoji/highlight off: host text is data, "[red]" or ":x:" from a host stays as is.
    return Console(file=stream, markup=False, emoji=False, highlight=False, soft_wrap=True)


def live_capable(console: Console) -> bool:
    # The stream itself must be a terminal: rich would also believe FORCE_COLOR, and a pipe
    # gets no escape code, whatever the environment says.
    return console.file.isatty() and console.is_terminal and not console.is_dumb_terminal


class Terminal:
    """Progress sink for the CLI; thread-safe (the fleet's hosts report at once)."""

    def __init__(self, err: IO[str] | None = None, out: IO[str] | None = None) -> None:
        self._err_stream = err or sys.stderr
        self._out_stream = out or sys.stdout
        self._err = _console(self._err_stream)
        self._out = _console(self._out_stream)
        self.live = live_capable(self._err)
        self._lock = threading.Lock()
        self._states: dict[str, str] = {}  # host -> its latest status (state without countdown)
        self._latest: dict[str, str] = {}  # host -> its latest line, for the live line
        self._count: tuple[int, int] | None = None
        self._display: Live | None = None
        self._spinner = Spinner("dots", style="cyan")

    # --- progress (stderr) ---------------------------------------------------------------

    def __enter__(self) -> Terminal:
        if self.live:
            self._display = Live(
                get_renderable=self._status_line,
                console=self._err,
                transient=True,
                refresh_per_second=8,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._display.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._display is not None:
            self._display.stop()
            self._display = None

    def __call__(self, message: str) -> None:
        """A progress line from the engine or the fleet (a `Status` updates, a line stays)."""
        text = printable(message)  # progress quotes what hosts said
        with self._lock:
            if isinstance(message, Status):
                self._latest.pop(message.host, None)  # the latest word goes last
                self._latest[message.host] = text
                if self._states.get(message.host) == message.state:
                    return  # the same wait, a second later: the live line shows it
                self._states[message.host] = message.state
                if self.live:
                    return
            else:
                host = text.split(": ", 1)[0]
                self._states.pop(host, None)
                self._latest.pop(host, None)
                self._latest[host] = text
            self._print_err(text)

    def done(self, host: str) -> None:
        """`host` has finished: it leaves the live line."""
        with self._lock:
            self._latest.pop(host, None)
            self._states.pop(host, None)

    def count(self, done: int, total: int) -> None:
        """The fleet's progress, shown in the live line (nothing is printed for it)."""
        with self._lock:
            self._count = (done, total)

    def _print_err(self, text: str) -> None:
        if self.live:
            self._err.print(_with_host_in_bold(text))
        else:
            self._err_stream.write(text + "\n")
            self._err_stream.flush()

    def _status_line(self) -> Any:
        with self._lock:
            busy = list(self._latest.values())
            count = self._count
        head = "working"
        if count is not None:
            done, total = count
            head = f"{done}/{total} hosts done"
        line = Text(head + (f" · {busy[-1]}" if busy else ""), no_wrap=True)
        line.truncate(max(10, self._err.width - 3), overflow="ellipsis")
        self._spinner.update(text=line)
        return self._spinner

    # --- results (stdout) ----------------------------------------------------------------

    def result(self, text: str, exit_code: int) -> None:
        """One host's result lines; the first coloured by `exit_code` on a terminal."""
        if not live_capable(self._out) or self._out.no_color:
            self._out_stream.write(text)
            self._out_stream.flush()
            return
        first, _, rest = text.partition("\n")
        self._out.print(Text(first, style=_RESULT_STYLES.get(exit_code, "red")))
        if rest:
            self._out.print(Text(rest.rstrip("\n")))

    def plain(self, text: str) -> None:
        """Text on stdout as it is (the fleet's table)."""
        self._out_stream.write(text + "\n")
        self._out_stream.flush()


def _with_host_in_bold(text: str) -> Text:
    host, sep, rest = text.partition(": ")
    line = Text(host + sep, style="bold" if sep else "")
    line.append(rest)
    return line
