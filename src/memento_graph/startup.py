"""The "starting…" line `memento run` shows on a terminal at once, erased by the first output.

Only on a terminal (standard error is one) and not under `--json` or `--help`: a pipe or a file
gets only real lines, so a bad input still prints one line. Imports nothing slow.
"""

from __future__ import annotations

import atexit
import sys
from typing import Any, TextIO

STARTING = "starting…"
_ERASE = "\r\x1b[2K"  # back to the start of the line, clear it
_COMMANDS = ("run", "resume")


def show_starting(argv: list[str]) -> bool:
    """Show the starting line for `run` and `resume` on a terminal; tell whether it was shown.

    The first write to standard output or error (through `sys.stdout` / `sys.stderr`) erases it
    first, and so does the exit when nothing was written.
    """
    if not argv or argv[0] not in _COMMANDS or {"--json", "--help"} & set(argv[1:]):
        return False
    if not _is_terminal(sys.stderr):
        return False
    status = _Status(sys.stderr)
    sys.stderr.write(STARTING)
    sys.stderr.flush()
    sys.stdout, sys.stderr = _Erasing(sys.stdout, status), _Erasing(sys.stderr, status)
    atexit.register(status.erase)
    return True


def _is_terminal(stream: TextIO | None) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False


class _Status:
    """The line on screen, erased once."""

    def __init__(self, stderr: TextIO) -> None:
        self.stderr = stderr
        self.shown = True

    def erase(self) -> None:
        """Erase the line, once.

        The wrapped streams stay in place: print() holds sys.stdout without a reference while
        it writes, so swapping it back from inside a write would free it under print's feet.
        """
        if not self.shown:
            return
        self.shown = False
        try:
            self.stderr.write(_ERASE)
            self.stderr.flush()
        except (OSError, ValueError):  # the terminal went away
            pass


class _Erasing:
    """A text stream that erases the status line before its first write."""

    def __init__(self, stream: TextIO, status: _Status) -> None:
        self.stream = stream
        self.status = status

    def write(self, text: str) -> int:
        """Erase the status line, then write."""
        if text:
            self.status.erase()
        return self.stream.write(text)

    def writelines(self, lines: Any) -> None:
        """Erase the status line, then write the lines."""
        self.status.erase()
        self.stream.writelines(lines)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)
