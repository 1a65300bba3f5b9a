"""`memento tools`: list the MCP servers, their status and tools; `memento tools call` runs one tool."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import typer

from memento_graph.errors import MementoError

app = typer.Typer(help="MCP servers (built-in and from mcp.json) and their tools.")

MCP_CONFIG = typer.Option(
    "", "--mcp-config", help="Path of an mcp.json (Claude Desktop, Claude Code, Cursor or VS Code)."
)
DISABLE = typer.Option(
    "", "--disable", help="Built-in servers to switch off (comma-separated, or 'all')."
)


def explain(server: str, status: str) -> str:
    """Add to 'not configured' the variables that configure a built-in server."""
    from memento_graph.mcp_servers import BUILTINS

    builtin = BUILTINS.get(server)
    if status != "not configured" or builtin is None or not builtin.requires:
        return status
    return f"{status}: set {' or '.join(builtin.requires)}"


def _context(mcp_config: str, disable: str) -> Any:
    from memento_graph.context import Context

    context = Context()
    if mcp_config:
        context.mcp_config = mcp_config
    if disable:
        context.disable_servers = disable
    return context


@app.callback(invoke_without_command=True)
def tools(ctx: typer.Context, mcp_config: str = MCP_CONFIG, disable: str = DISABLE) -> None:
    """List every server, its status and its tools."""
    ctx.obj = {"mcp_config": mcp_config, "disable": disable}
    if ctx.invoked_subcommand is None:
        asyncio.run(_list(_context(mcp_config, disable)))


async def _list(context: Any) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from memento_graph.toolbox import open_toolbox

    async with open_toolbox(context) as box:
        table = Table("server", "status", "tools")
        for server, status in box.servers.items():
            names = ", ".join(t.name for t in box.server_tools.get(server, []))
            style = (
                "green" if status == "ready" else ("red" if status.startswith("failed") else "dim")
            )
            table.add_row(server, f"[{style}]{escape(explain(server, status))}[/{style}]", names)
        console = Console()
        console.print(table)
        for note in box.clashes:
            console.print(f"[yellow]note:[/yellow] {note}")
        for note in box.hidden:
            console.print(f"[dim]note: {escape(note)}[/dim]")


@app.command("call")
def call(
    ctx: typer.Context,
    server: str = typer.Argument(..., help="Server name, as `memento tools` lists it."),
    tool: str = typer.Argument(..., help="Tool name."),
    args: str = typer.Option("{}", "--args", help="Tool arguments as a JSON object."),
    mcp_config: str = MCP_CONFIG,
    disable: str = DISABLE,
) -> None:
    """Call one tool of one server and print its result (for debugging)."""
    try:
        arguments = json.loads(args)
    except json.JSONDecodeError as exc:
        raise MementoError(f"--args is not valid JSON: {exc}") from None
    if not isinstance(arguments, dict):
        raise MementoError('--args must be a JSON object, like \'{"expression": "1+1"}\'')
    parent = ctx.obj or {}
    context = _context(
        mcp_config or parent.get("mcp_config", ""), disable or parent.get("disable", "")
    )
    text, failed = asyncio.run(_call(context, server, tool, arguments))
    typer.echo(text)
    if failed:
        raise typer.Exit(1)


async def _call(context: Any, server: str, tool: str, arguments: dict) -> tuple[str, bool]:
    from langchain_core.tools import ToolException

    from memento_graph.toolbox import open_toolbox

    async with open_toolbox(context) as box:
        if server not in box.servers:
            raise MementoError(f"unknown server {server!r} (known: {', '.join(box.servers)})")
        if box.servers[server] != "ready":
            status = explain(server, box.servers[server])
            raise MementoError(f"server {server!r} is not available: {status}")
        found = box.find(server, tool)
        if found is None:
            names = ", ".join(t.name for t in box.server_tools.get(server, []))
            raise MementoError(f"server {server!r} has no tool {tool!r} (tools: {names})")
        assert found.coroutine is not None  # every tool of a toolbox has one (toolbox._wrap)
        try:
            text, _images = await found.coroutine(**arguments)  # images: shown as placeholders
            return text, False
        except ToolException as exc:
            return str(exc), True
