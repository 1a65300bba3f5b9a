"""MCP server `code`: run Python or shell in a per-task workspace, and list/read/write its files.

Backends: `subprocess` (default: a bubblewrap jail, see jail.py and sandbox.py) and `e2b` (when
`E2B_API_KEY` is set and `MEMENTO_CODE_BACKEND` is not `subprocess`). Settings are read at each call.
"""

from __future__ import annotations

import os
import shutil

from memento_graph.mcp_servers import jail, sandbox
from memento_graph.mcp_servers.common import (
    ToolError,
    new_server,
    page,
    safe_path,
    serve,
    workspace,
)
from memento_graph.mcp_servers.e2b_backend import E2BBackend
from memento_graph.settings import SETTINGS

mcp = new_server("code")
MAX_WRITE = 5_000_000
_e2b_backends: dict[str, E2BBackend] = {}


def _e2b() -> E2BBackend | None:
    """Return the e2b backend when the settings choose it (one per server process)."""
    backend = SETTINGS.code_backend
    if backend == "e2b" or (os.environ.get("E2B_API_KEY") and backend != "subprocess"):
        return _e2b_backends.setdefault("e2b", E2BBackend(_limits(None).timeout))
    return None


def _limits(timeout: float | None) -> sandbox.Limits:
    try:
        limits = sandbox.Limits.from_env()
    except sandbox.SandboxError as exc:
        raise ToolError(str(exc)) from None
    if timeout:
        limits.timeout = max(0.1, min(timeout, limits.timeout))
    return limits


async def _run(argv: list[str], limits: sandbox.Limits) -> str:
    try:
        result = await sandbox.run_subprocess(argv, workspace(), limits)
    except jail.JailError as exc:
        raise ToolError(str(exc)) from None
    return result.text(limits)


@mcp.tool()
async def run_python(code: str, timeout: float | None = None) -> str:
    """Run a Python program in the task workspace and return its output (print what you need).

    Only common data/math libraries may be imported (no os, subprocess, socket...).
    """
    limits = _limits(timeout)
    if e2b := _e2b():
        return await e2b.run_python(code, limits.timeout)
    try:
        sandbox.check_python(code)
    except sandbox.SandboxError as exc:
        raise ToolError(str(exc)) from None
    return await _run(sandbox.python_argv(code), limits)


@mcp.tool()
async def run_shell(command: str, timeout: float | None = None) -> str:
    """Run a shell command in the task workspace and return its output and exit code."""
    limits = _limits(timeout)
    if e2b := _e2b():
        return await e2b.run_shell(command, limits.timeout)
    shell = shutil.which("bash") or "/bin/sh"
    return await _run([shell, "-c", command], limits)


@mcp.tool()
async def list_files(path: str = ".") -> str:
    """List the files of a folder in the task workspace (with sizes)."""
    if e2b := _e2b():
        return await e2b.list_files(path)
    folder = safe_path(path)
    if not folder.is_dir():
        raise ToolError(f"not a folder: {path}")
    root = workspace()
    lines = []
    for entry in sorted(folder.iterdir())[:500]:
        rel = entry.relative_to(root)
        lines.append(f"{rel}/" if entry.is_dir() else f"{rel}  ({entry.stat().st_size} bytes)")
    return "\n".join(lines) or "(empty folder)"


@mcp.tool()
async def read_file(path: str, offset: int = 0, limit: int = 20_000) -> str:
    """Read a text file of the task workspace, one page of `limit` characters from `offset`."""
    if e2b := _e2b():
        return page(await e2b.read_file(path), offset, limit)
    target = safe_path(path)
    if not target.is_file():
        raise ToolError(f"no such file in the workspace: {path}")
    return page(target.read_text(errors="replace"), offset, limit)


@mcp.tool()
async def write_file(path: str, content: str) -> str:
    """Write (create or replace) a text file in the task workspace."""
    if len(content) > MAX_WRITE:
        raise ToolError(f"content too large ({len(content)} characters; limit {MAX_WRITE})")
    if e2b := _e2b():
        return await e2b.write_file(path, content)
    target = safe_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    fd = os.open(target, flags, 0o664)
    with os.fdopen(fd, "w") as fh:
        fh.write(content)
    return f"wrote {len(content)} characters to {target.relative_to(workspace())}"


if __name__ == "__main__":
    serve(mcp)
