"""Per-server stderr logs: each stdio server writes to `<home>/logs/mcp/<name>.log`, not the terminal.

A stdio server runs under a small `sh` wrapper that appends its stderr to the log between two
markers, the second one with its exit code, so a server that fails is reported with its exit code
and the last lines it wrote, attributed to it. The wrapper adds no process of its own once the
server runs beyond `sh` waiting, and dies with it (the MCP client kills the whole process group).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

SH = "/bin/sh"
MARK = "--- memento:"
SCRIPT = (
    'log=$1; shift; echo "--- memento: started $1" >>"$log"; '
    'if ! command -v "$1" >/dev/null 2>&1; then '
    'echo "command not found: $1" >>"$log"; code=127; '
    'else "$@" 2>>"$log"; code=$?; fi; '
    'echo "--- memento: exited with code $code" >>"$log"; exit $code'
)
MAX_LOG = 1_000_000
TAIL_LINES = 5
_EXITED = re.compile(rf"^{MARK} exited with code (\d+)$")


def log_path(home: Path, name: str) -> Path:
    """Return the stderr log of server `name` (its folder made, rotated past 1 MB)."""
    folder = (home / "logs" / "mcp").resolve()  # the server may run in another folder
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.log"
    if path.is_file() and path.stat().st_size > MAX_LOG:
        path.replace(path.with_suffix(".log.1"))
    return path


def wrap(connection: dict[str, Any], log: Path) -> dict[str, Any]:
    """Return a stdio connection whose server's stderr goes to `log` (others unchanged)."""
    if connection.get("transport") != "stdio" or not os.access(SH, os.X_OK):
        return connection
    args = ["-c", SCRIPT, "memento-mcp", str(log), connection["command"], *connection["args"]]
    return {**connection, "command": SH, "args": args}


def log_of(connection: dict[str, Any]) -> Path | None:
    """Return the stderr log of a connection made by `wrap`, else None."""
    args = connection.get("args") or []
    if connection.get("command") == SH and args[:2] == ["-c", SCRIPT] and len(args) > 3:
        return Path(args[3])
    return None


def last_run(log: Path) -> tuple[int | None, list[str]]:
    """Return the exit code (None if still running or killed) and stderr lines of the last start."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return None, []
    starts = [i for i, line in enumerate(lines) if line.startswith(f"{MARK} started")]
    lines = lines[starts[-1] + 1 :] if starts else lines
    code = None
    if lines and (match := _EXITED.match(lines[-1])):
        code, lines = int(match.group(1)), lines[:-1]
    return code, [line.strip() for line in lines if line.strip()]


def failure(log: Path) -> str:
    """Describe how a server's last run ended: exit code and its last stderr lines ('' if nothing)."""
    code, lines = last_run(log)
    tail = " | ".join(lines[-TAIL_LINES:])[-400:]
    if code is not None:
        return f"exited with code {code}" + (f": {tail}" if tail else " (no stderr output)")
    return f"stderr: {tail}" if tail else ""
