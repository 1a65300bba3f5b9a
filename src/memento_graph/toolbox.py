"""The toolbox: MCP servers held open for a whole run (or a whole server process).

`open_toolbox` starts the enabled built-in servers and those of the user's mcp.json concurrently,
each in its own task holding a persistent session (`client.session`, tools loaded by
tool_content.load_callable_tools), and wraps their tools. Tools return plain text, with the images
a tool gave as their artifact; tools that need task-augmented calls are left out (`hidden`). A
server that fails to start is reported once and skipped; a server that dies mid-run turns into
tool errors. No registry: the agent hands the tools to the nodes through the run's config (see
resources.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from langchain_core.tools import BaseTool, StructuredTool, ToolException

from memento_graph.context import Context
from memento_graph.mcp_servers.secret_env import masked
from memento_graph.settings import SETTINGS
from memento_graph.tool_content import content_text, images_of, load_callable_tools

__all__ = ["Toolbox", "check_servers", "content_text", "open_toolbox"]

log = logging.getLogger(__name__)
_VALID_NAME = re.compile(r"[^A-Za-z0-9_-]")
_PREFIX = re.compile(r"^Error executing tool [\w-]+: ")


def check_servers(context: Context) -> None:
    """Raise a MementoError for a bad `disable_servers` or mcp.json, before any server starts."""
    from memento_graph.mcp_servers.config import disabled_builtins
    from memento_graph.mcp_servers.dialects import parse_mcp_json

    disabled_builtins(context.disable_servers)
    if context.mcp_config:
        parse_mcp_json(context.mcp_config)


@dataclass
class Toolbox:
    """What `open_toolbox` started: tools, server statuses, renames for name clashes, tools left out."""

    tools: list[BaseTool] = field(default_factory=list)
    servers: dict[str, str] = field(default_factory=dict)
    clashes: list[str] = field(default_factory=list)
    workspace: Path | None = None
    tool_server: dict[str, str] = field(default_factory=dict)
    server_tools: dict[str, list[StructuredTool]] = field(default_factory=dict)
    hidden: list[str] = field(default_factory=list)

    def allow(self, paths: list[str] | tuple[str, ...]) -> None:
        """Let the servers read these files or folders (a task's input files) from now on."""
        from memento_graph.mcp_servers.config import roots_file

        if self.workspace is not None and paths:
            with roots_file(self.workspace).open("a") as fh:
                fh.writelines(f"{Path(p).expanduser().resolve()}\n" for p in paths)

    def find(self, server: str, tool: str) -> StructuredTool | None:
        """Return a server's tool by its MCP name or its registered name."""
        for item in self.server_tools.get(server, []):
            if tool in {item.name, item.metadata.get("mcp_name") if item.metadata else None}:
                return item
        return None


@asynccontextmanager
async def open_toolbox(
    context: Context, taken: set[str] | frozenset[str] = frozenset()
) -> AsyncIterator[Toolbox]:
    """Start the servers, hold their sessions and wrap their tools for the whole block.

    `taken` are names already in use (plain LangChain tools): a clashing MCP tool is renamed.
    Leaving the block while servers are still starting stops them at once.
    """
    from langchain_mcp_adapters.client import MultiServerMCPClient

    from memento_graph.mcp_servers.config import plan_servers

    def prepare() -> tuple[Path, dict, dict, list]:  # file-system work, off the event loop
        workspace = context.home_path / "workspaces" / uuid.uuid4().hex[:12]
        plan = plan_servers(context.disable_servers, context.mcp_config, workspace, context.home)
        workspace.mkdir(parents=True, exist_ok=True)
        return (workspace, *plan)

    workspace, connections, statuses, notes = await asyncio.to_thread(prepare)
    box = Toolbox(servers=dict(statuses), clashes=list(notes), workspace=workspace)
    client = MultiServerMCPClient(connections)
    stop = asyncio.Event()
    ready = {name: asyncio.get_running_loop().create_future() for name in connections}
    holders = {n: asyncio.create_task(_hold(client, n, ready[n], stop, box)) for n in connections}
    try:
        loaded = await _wait_ready(ready, box)
        for name in set(holders) - set(loaded):  # a server that hangs at start is stopped
            holders[name].cancel()
        box.tools = _register(loaded, box, set(taken), context.tool_timeout)
        yield box
    finally:
        stop.set()
        for name, fut in ready.items():  # still starting: no need to wait for it to be ready
            if not fut.done():
                holders[name].cancel()
        await _close(list(holders.values()))
        await asyncio.to_thread(_tidy, workspace)


def _tidy(workspace: Path) -> None:
    """Remove the run's roots file, and its workspace when the run left nothing in it."""
    from memento_graph.mcp_servers.config import roots_file

    with contextlib.suppress(OSError):
        roots_file(workspace).unlink()
    with contextlib.suppress(OSError):
        workspace.rmdir()


async def _hold(
    client: Any, name: str, ready: asyncio.Future, stop: asyncio.Event, box: Toolbox
) -> None:
    """Own one server's session from start to stop (anyio scopes must exit in the task that entered)."""
    try:
        async with client.session(name) as session:
            tools, hidden = await load_callable_tools(session, name)
            box.hidden.extend(
                f"tool {tool!r} of server {name!r} is not offered: it needs task-augmented "
                "calls (execution.taskSupport 'required'), which memento does not make"
                for tool in hidden
            )
            if not ready.done():
                ready.set_result(tools)
            await stop.wait()
    except Exception as exc:  # noqa: BLE001 - any failure of a server is reported, never raised
        reason, stderr_log = await _ended(client, name, exc)
        if not ready.done():
            ready.set_exception(RuntimeError(reason, stderr_log))
        elif not stop.is_set() and box.servers.get(name) == "ready":
            box.servers[name] = f"failed: crashed ({reason})"
            log.warning("MCP server %s stopped: %s", name, reason)


async def _wait_ready(ready: dict[str, asyncio.Future], box: Toolbox) -> dict[str, list[BaseTool]]:
    """Wait for every server to be ready; report (once) and skip those that fail or hang."""
    timeout = SETTINGS.server_start_timeout
    if ready:
        await asyncio.wait(ready.values(), timeout=timeout)
    loaded: dict[str, list[BaseTool]] = {}
    for name, fut in ready.items():
        if not fut.done():
            fut.cancel()
            reason, where = f"did not start within {timeout:g} s", []
        elif (exc := fut.exception()) is not None:
            reason, *where = exc.args or ("unknown error",)
        else:
            loaded[name] = fut.result()
            box.servers[name] = "ready"
            continue
        box.servers[name] = f"failed: {reason}"
        full = f" (full log: {where[0]})" if where and where[0] else ""
        log.warning("MCP server %s failed to start: %s%s", name, reason, full)
    return loaded


def _register(
    loaded: dict[str, list[BaseTool]], box: Toolbox, taken: set[str], timeout: float
) -> list[BaseTool]:
    """Wrap every server's tools; a name already taken gets the server name as prefix."""
    tools: list[BaseTool] = []
    for server, server_tools in loaded.items():
        box.server_tools[server] = []
        for tool in server_tools:
            name = _VALID_NAME.sub("_", tool.name)[:64]
            if name in taken:
                renamed = _VALID_NAME.sub("_", f"{server}_{tool.name}")[:64]
                box.clashes.append(
                    f"tool {tool.name!r} of server {server!r} renamed to {renamed!r} "
                    f"(the name was taken by {box.tool_server.get(name, 'a registered tool')!r})"
                )
                name = renamed
            taken.add(name)
            box.tool_server[name] = server
            wrapped = _wrap(tool, server, name, box, timeout)
            box.server_tools[server].append(wrapped)
            tools.append(wrapped)
    for note in box.clashes:
        log.warning("%s", note)
    for note in box.hidden:
        log.info("%s", note)
    return tools


def _wrap(tool: BaseTool, server: str, name: str, box: Toolbox, timeout: float) -> StructuredTool:
    """Return a tool that gives the model plain text and turns every failure into a tool error.

    Its artifact holds the images of the result (`{"images": [...]}`) or is None.
    """
    # langchain-mcp-adapters makes StructuredTools that run through `coroutine`
    assert isinstance(tool, StructuredTool) and tool.coroutine is not None
    run = tool.coroutine

    async def call(**kwargs: Any) -> tuple[str, dict[str, Any] | None]:
        status = box.servers.get(server, "")
        if status != "ready":
            raise ToolException(f"Error: MCP server {server!r} is not available ({status})")
        try:
            content, _artifact = await asyncio.wait_for(run(**kwargs), timeout)
        except ToolException as exc:
            raise ToolException(f"Error: {_PREFIX.sub('', str(exc))}") from None
        except TimeoutError:
            raise ToolException(f"Error: {name} timed out after {timeout:g} s") from None
        except Exception as exc:  # noqa: BLE001 - transport failures, crashed servers
            if _is_crash(exc):
                box.servers[server] = f"failed: crashed ({_reason(exc)})"
                log.warning("MCP server %s stopped: %s", server, _reason(exc))
                raise ToolException(
                    f"Error: MCP server {server!r} stopped; {name} failed"
                ) from None
            raise ToolException(f"Error: {name} failed: {_reason(exc)}") from None
        images = images_of(content)
        return content_text(content), ({"images": images} if images else None)

    return StructuredTool(
        name=name,
        description=tool.description or name,
        args_schema=tool.args_schema,
        coroutine=masked(call),  # no secret value of this process reaches the model
        response_format="content_and_artifact",
        handle_tool_error=True,
        metadata={"server": server, "mcp_name": tool.name},
    )


def _is_crash(exc: BaseException) -> bool:
    """Tell whether an error means the server's connection is gone for good."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, anyio.ClosedResourceError | anyio.BrokenResourceError | anyio.EndOfStream):
        return True
    return "Connection closed" in str(exc)


def _reason(exc: BaseException) -> str:
    """One line telling why, digging into exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


async def _ended(client: Any, name: str, exc: BaseException) -> tuple[str, Path | None]:
    """Say why a server stopped: its exit code and last stderr lines when it had a stderr log."""
    from memento_graph.mcp_servers.server_log import failure, log_of

    reason = _reason(exc)
    stderr_log = log_of(getattr(client, "connections", {}).get(name) or {})
    if stderr_log is None:
        return reason, None
    ended = await asyncio.to_thread(failure, stderr_log)
    if ended.startswith("exited"):
        return ended, stderr_log
    return (f"{reason}; {ended}" if ended else reason), stderr_log


async def _close(holders: list[asyncio.Task]) -> None:
    """Stop every session task (they close their server processes)."""
    if not holders:
        return
    done, pending = await asyncio.wait(holders, timeout=10)
    for task in pending:
        task.cancel()
    with contextlib.suppress(BaseException):
        await asyncio.gather(*pending, return_exceptions=True)
