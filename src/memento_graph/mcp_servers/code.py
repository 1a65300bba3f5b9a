"""MCP server `code`: run Python or shell in a per-task workspace, and list/read/write its files.

Backends: `subprocess` (default; see sandbox.py for the limits) and `e2b` (when `E2B_API_KEY` is set
and `MEMENTO_CODE_BACKEND` is not `subprocess`).
"""

from __future__ import annotations

import os
import shutil

from memento_graph.mcp_servers import sandbox
from memento_graph.mcp_servers.common import (
    ToolError,
    new_server,
    page,
    safe_path,
    serve,
    workspace,
)
from memento_graph.mcp_servers.e2b_backend import E2BBackend

mcp = new_server("code")
LIMITS = sandbox.Limits()
MAX_WRITE = 5_000_000


def _e2b() -> E2BBackend | None:
    backend = os.environ.get("MEMENTO_CODE_BACKEND", "")
    if backend == "e2b" or (os.environ.get("E2B_API_KEY") and backend != "subprocess"):
        return E2BBackend(LIMITS.timeout)
    return None


E2B = _e2b()


def _limits(timeout: float | None) -> sandbox.Limits:
    limits = sandbox.Limits(**vars(LIMITS))
    if timeout:
        limits.timeout = max(0.1, min(timeout, LIMITS.timeout))
    return limits


@mcp.tool()
async def run_python(code: str, timeout: float | None = None) -> str:
    """Run a Python program in the task workspace and return its output (print what you need).

    Only common data/math libraries may be imported (no os, subprocess, socket...).
    """
    limits = _limits(timeout)
    if E2B:
        return await E2B.run_python(code, limits.timeout)
    try:
        sandbox.check_python(code)
    except sandbox.SandboxError as exc:
        raise ToolError(str(exc)) from None
    result = await sandbox.run_subprocess(sandbox.python_argv(code), workspace(), limits)
    return result.text(limits)


@mcp.tool()
async def run_shell(command: str, timeout: float | None = None) -> str:
    """Run a shell command in the task workspace and return its output and exit code."""
    limits = _limits(timeout)
    if E2B:
        return await E2B.run_shell(command, limits.timeout)
    shell = shutil.which("bash") or "/bin/sh"
    result = await sandbox.run_subprocess([shell, "-c", command], workspace(), limits)
    return result.text(limits)


@mcp.tool()
async def list_files(path: str = ".") -> str:
    """List the files of a folder in the task workspace (with sizes)."""
    if E2B:
        return await E2B.list_files(path)
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
    if E2B:
        return page(await E2B.read_file(path), offset, limit)
    target = safe_path(path)
    if not target.is_file():
        raise ToolError(f"no such file in the workspace: {path}")
    return page(target.read_text(errors="replace"), offset, limit)


@mcp.tool()
async def write_file(path: str, content: str) -> str:
    """Write (create or replace) a text file in the task workspace."""
    if len(content) > MAX_WRITE:
        raise ToolError(f"content too large ({len(content)} characters; limit {MAX_WRITE})")
    if E2B:
        return await E2B.write_file(path, content)
    target = safe_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    fd = os.open(target, flags, 0o664)
    with os.fdopen(fd, "w") as fh:
        fh.write(content)
    return f"wrote {len(content)} characters to {target.relative_to(workspace())}"


if __name__ == "__main__":
    serve(mcp)
