"""Helpers shared by the built-in MCP servers: stdio guard, workspace, safe paths, paging."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Awaitable, Callable
from io import TextIOWrapper
from pathlib import Path

import anyio
from mcp.server.fastmcp import FastMCP

from memento_graph.settings import SETTINGS

DEFAULT_PAGE = 20_000


class ToolError(Exception):
    """A clear, one-line error a tool reports to the model."""


def new_server(name: str) -> FastMCP:
    """Return a FastMCP server that logs warnings only (stderr is the user's terminal)."""
    level = SETTINGS.server_log_level
    return FastMCP(name, log_level=level)  # type: ignore[arg-type]


def serve(mcp: FastMCP, on_exit: Callable[[], Awaitable[None]] | None = None) -> None:
    """Run `mcp` over stdio with fd 1 redirected to stderr, so no child process corrupts the protocol."""
    from mcp.server.stdio import stdio_server

    proto_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    out = anyio.wrap_file(TextIOWrapper(os.fdopen(proto_fd, "wb"), encoding="utf-8"))

    async def main() -> None:
        try:
            async with stdio_server(stdout=out) as (read, write):
                server = mcp._mcp_server
                await server.run(read, write, server.create_initialization_options())
        finally:
            if on_exit is not None:
                await on_exit()

    anyio.run(main)


def workspace() -> Path:
    """Return the per-task workspace: `MEMENTO_WORKSPACE`, else a new dir under MEMENTO_HOME."""
    env = SETTINGS.workspace
    if env:
        path = Path(env)
    else:
        home = Path(os.environ.get("MEMENTO_HOME") or tempfile.gettempdir()) / "workspaces"
        home.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix="ws-", dir=home))
        os.environ["MEMENTO_WORKSPACE"] = str(path)
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def read_roots() -> list[Path]:
    """Return what file-reading tools may open.

    That is the workspace, `MEMENTO_READ_ROOTS`, and the files and folders listed in
    `MEMENTO_ROOTS_FILE` (a task's input files, added at run time by `Toolbox.allow`).
    """
    items = SETTINGS.read_roots.split(os.pathsep)
    listed = Path(SETTINGS.roots_file or "/nonexistent")
    if listed.is_file():
        items += listed.read_text().splitlines()
    return [workspace()] + [Path(item).resolve() for item in items if item]


def safe_path(path: str, roots: list[Path] | None = None) -> Path:
    """Resolve `path` (relative to the workspace) and refuse anything outside the allowed roots."""
    roots = roots or [workspace()]
    if not path or "\x00" in path:
        raise ToolError("empty or invalid path")
    raw = Path(path).expanduser()
    resolved = (raw if raw.is_absolute() else roots[0] / raw).resolve()
    for root in roots:
        if resolved == root or resolved.is_relative_to(root):
            return resolved
    raise ToolError(f"access denied: {path!r} is outside the workspace")


def page(text: str, offset: int = 0, limit: int = DEFAULT_PAGE) -> str:
    """Return one page of `text` with a header telling where it sits and how to get the next page."""
    total = len(text)
    offset = max(0, offset)
    limit = max(1, min(limit, 100_000))
    chunk = text[offset : offset + limit]
    end = offset + len(chunk)
    more = f"; next offset={end}" if end < total else "; end of document"
    return f"[characters {offset}-{end} of {total}{more}]\n{chunk}"


def clip(text: str, budget: int) -> str:
    """Cut `text` to `budget` characters, saying how much was dropped."""
    if len(text) <= budget:
        return text
    return text[:budget] + f"\n[... truncated {len(text) - budget} characters]"
