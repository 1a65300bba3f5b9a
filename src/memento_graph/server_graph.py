"""The graph as `langgraph dev` (Studio) and LangGraph's server serve it.

`make_graph` is the graph factory named in langgraph.json: for a run it holds the MCP toolbox open
(one toolbox per server process, shared by concurrent runs, closed after the last one); for schema,
drawing and state reads it only returns the graph. `checkpointer` is the custom checkpointer factory:
the same store as the CLI (`<MEMENTO_HOME>/threads.sqlite`, or `MEMENTO_CHECKPOINT_URL`), so threads
started from the CLI can be opened and resumed in Studio.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph_sdk.runtime import ServerRuntime

from memento_graph.context import Context
from memento_graph.graph import graph_builder
from memento_graph.server_runs import server_run


class SharedToolbox:
    """One toolbox for all runs of an event loop: opened by the first run, closed after the last."""

    def __init__(self) -> None:
        """Start with nothing open."""
        self.users = 0
        self.lock = asyncio.Lock()
        self.stop: asyncio.Event | None = None
        self.owner: asyncio.Task | None = None

    @asynccontextmanager
    async def use(self, context: Context) -> AsyncIterator[None]:
        """Hold the toolbox open for the block."""
        async with self.lock:
            if self.users == 0:
                ready: asyncio.Future = asyncio.get_running_loop().create_future()
                self.stop = asyncio.Event()
                self.owner = asyncio.create_task(self._own(context, ready, self.stop))
                await ready
            self.users += 1
        try:
            yield
        finally:
            async with self.lock:
                self.users -= 1
                if self.users == 0 and self.stop and self.owner:
                    self.stop.set()
                    await self.owner

    @staticmethod
    async def _own(context: Context, ready: asyncio.Future, stop: asyncio.Event) -> None:
        """Open the toolbox in one task (its sessions must close in the task that opened them)."""
        from memento_graph.toolbox import open_toolbox

        try:
            async with open_toolbox(context):
                ready.set_result(None)
                await stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            else:
                raise


_TOOLBOXES: dict[int, SharedToolbox] = {}


def shared_toolbox() -> SharedToolbox:
    """Return the shared toolbox of the running event loop."""
    loop = asyncio.get_running_loop()
    return _TOOLBOXES.setdefault(id(loop), SharedToolbox())


@asynccontextmanager
async def make_graph(config: RunnableConfig, runtime: ServerRuntime[Context]) -> AsyncIterator[Any]:
    """Graph factory: hold the MCP tools open while a run executes; otherwise just the graph.

    A run is recorded like a CLI run (server_runs.py): thread index, LangSmith names and feedback.
    """
    graph = graph_builder().compile(
        name="memento"
    )  # without a checkpointer: the server has its own
    if runtime.execution_runtime is None:
        yield graph
        return
    # Servers and their settings come from the server's environment (MEMENTO_*), one set per process.
    context = await asyncio.to_thread(Context)
    run = server_run(graph, dict(config), runtime.execution_runtime.context)
    async with shared_toolbox().use(context), run as traced:
        yield traced


@asynccontextmanager
async def checkpointer() -> AsyncIterator[BaseCheckpointSaver]:
    """Checkpointer factory for langgraph.json: the same store the CLI uses."""
    from memento_graph.checkpoint import open_checkpointer

    context = await asyncio.to_thread(Context)
    async with open_checkpointer(context) as saver:
        yield saver
