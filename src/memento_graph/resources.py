"""What the nodes use besides their settings: the tools and the memory, handed in by the runner.

Whoever runs the graph (`open_agent` for the CLI and eval, `make_graph` under LangGraph's server)
puts one `Resources` in the run's config (`configurable[RESOURCES]`); nodes read it with
`resources_of(config)`. Nothing is looked up in module globals, so a test builds an agent with
fake tools or a fake memory by passing them in.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool

from memento_graph.context import Context
from memento_graph.errors import MementoError

if TYPE_CHECKING:
    from memento_graph.memory import Memory
    from memento_graph.tool_source import ToolSource

RESOURCES = "__memento_resources"
"""The key of the run's `configurable` that holds its Resources (`__`: kept out of metadata)."""

MemoryOpener = Callable[[Context], "Memory"]


def _open_memory(context: Context) -> Memory:
    from memento_graph.memory import open_memory

    return open_memory(context)


class Resources:
    """The tools and the memories (one per home, user and embedder) of an agent's runs."""

    def __init__(
        self,
        tools: ToolSource | Sequence[BaseTool] = (),
        open_memory: MemoryOpener = _open_memory,
    ) -> None:
        """Take a tool source (or a fixed list of tools) and how to open a memory."""
        self.source = None if isinstance(tools, Sequence) else tools
        self.fixed = list(tools) if isinstance(tools, Sequence) else []
        self.open_memory = open_memory
        self._memories: dict[tuple[str, str, str], asyncio.Future[Memory]] = {}

    async def tools(self) -> list[BaseTool]:
        """Return the executor's tools (see ToolSource.tools)."""
        return self.fixed if self.source is None else await self.source.tools()

    def warm(self) -> None:
        """Start the tool servers in the background now (a plan names tools: they will be used)."""
        if self.source is not None:
            self.source.start()

    def allow(self, paths: Sequence[str]) -> None:
        """Let the tool servers read a task's input files."""
        if self.source is not None and paths:
            self.source.allow(paths)

    def prepare_memory(self, context: Context) -> None:
        """Start opening the memory of `context` in the background (when memory is on)."""
        if context.policy != "none":
            self._memory_future(context)

    async def memory(self, context: Context) -> Memory:
        """Return the memory of `context`'s home, user and embedder (opened once)."""
        return await asyncio.shield(self._memory_future(context))

    def _memory_future(self, context: Context) -> asyncio.Future[Memory]:
        home = os.path.abspath(os.path.expanduser(context.home))  # no file-system call here
        key = (home, context.user, context.embedding_model)
        future = self._memories.get(key)
        if future is None or (future.done() and future.exception() is not None):
            future = asyncio.ensure_future(asyncio.to_thread(self.open_memory, context))
            future.add_done_callback(lambda f: f.cancelled() or f.exception())  # no warning
            self._memories[key] = future
        return future

    def config(self, config: dict[str, Any] | None = None) -> dict[str, Any]:
        """Return `config` with these resources in its `configurable`."""
        config = dict(config or {})
        config["configurable"] = {**(config.get("configurable") or {}), RESOURCES: self}
        return config

    async def aclose(self) -> None:
        """Stop the tool servers; wait for memories still opening (their threads cannot stop)."""
        if self.source is not None:
            await self.source.aclose()
        pending = [f for f in self._memories.values() if not f.done()]
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


def resources_of(config: RunnableConfig) -> Resources:
    """Return the Resources of the run `config` belongs to."""
    found = (config.get("configurable") or {}).get(RESOURCES)
    if not isinstance(found, Resources):
        raise MementoError(
            "the graph ran without its tools and memory: run it through open_agent "
            "(or LangGraph's server with server_graph.make_graph)"
        )
    return found
