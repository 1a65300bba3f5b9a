"""The graph as `langgraph dev` (Studio) and LangGraph's server serve it.

`make_graph` is the graph factory named in langgraph.json. For a run it returns the graph with the
worker's resources in its config: one tool source per server process (event loop), started by
the first run and shared by all later ones, replaced only when one of its servers has died or the
server configuration changed (catalogue.cache_key); and the memories, opened once each. It never
waits for the servers itself (they start in the background, see tool_source.py), so loading the
graph stays fast. For schema, drawing and state reads it only returns the graph. `checkpointer` is
the custom checkpointer factory: the same store as the CLI (`<MEMENTO_HOME>/threads.sqlite`, or
`MEMENTO_CHECKPOINT_URL`), so threads started from the CLI can be opened and resumed in Studio.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph_sdk.runtime import ServerRuntime

from memento_graph.catalogue import cache_key
from memento_graph.context import Context
from memento_graph.graph import graph_builder
from memento_graph.resources import Resources
from memento_graph.server_runs import server_run
from memento_graph.tool_source import ToolSource  # imported with the graph: loading it stays fast


class WorkerResources:
    """The resources of one worker's event loop, kept across runs."""

    def __init__(self) -> None:
        """Start with nothing open."""
        self.context: Context | None = None
        self.current: Resources | None = None
        self.key: str | None = None
        self.users: dict[int, int] = {}
        self.lock = asyncio.Lock()
        self.tasks: set[asyncio.Task] = set()  # background checks and closes, held till done

    def _background(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    @asynccontextmanager
    async def use(self, context: Context) -> AsyncIterator[Resources]:
        """Hold the shared resources for one run; replaced ones stop after their last run."""
        async with self.lock:
            resources = await self._get(context)
            self.users[id(resources)] = self.users.get(id(resources), 0) + 1
        try:
            yield resources
        finally:
            async with self.lock:
                self.users[id(resources)] -= 1
                idle = self.users[id(resources)] == 0
                if idle:
                    del self.users[id(resources)]
            if idle and resources is not self.current:
                await resources.aclose()

    async def _get(self, context: Context) -> Resources:
        """Return the current resources, (re)starting the tool servers when needed.

        The configuration's key is computed (files read) in a thread; after the first run, that
        check runs in the background and a change takes effect from the next run on.
        """
        if self.current is None:
            self._replace(context, await asyncio.to_thread(cache_key, context, []))
        else:
            self._background(self._recheck(context))
            if self.current.source is not None and self.current.source.crashed():
                self._replace(context, self.key or "")
        assert self.current is not None
        return self.current

    async def _recheck(self, context: Context) -> None:
        key = await asyncio.to_thread(cache_key, context, [])
        async with self.lock:
            if key != self.key:
                self._replace(context, key)

    def _replace(self, context: Context, key: str) -> None:
        old = self.current
        source = ToolSource(context)
        source.start()
        self.current, self.key = Resources(source), key
        if old is not None and id(old) not in self.users:
            self._background(old.aclose())


@functools.cache
def compiled() -> Any:
    """Return the graph compiled once per process, without a checkpointer (the server has its own)."""
    return graph_builder().compile(name="memento")


_WORKERS: dict[int, WorkerResources] = {}


def worker_resources() -> WorkerResources:
    """Return the resources holder of the running event loop (one per worker)."""
    return _WORKERS.setdefault(id(asyncio.get_running_loop()), WorkerResources())


@asynccontextmanager
async def make_graph(config: RunnableConfig, runtime: ServerRuntime[Context]) -> AsyncIterator[Any]:
    """Graph factory: a run gets the graph bound to the worker's tools and memories.

    A run is recorded like a CLI run (server_runs.py): thread index, LangSmith names and feedback.
    """
    graph = compiled()
    if runtime.execution_runtime is None:
        yield graph
        return
    # Servers and their settings come from the server's environment (MEMENTO_*), one set per process.
    worker = worker_resources()
    if worker.context is None:
        worker.context = await asyncio.to_thread(Context)
    context = worker.context
    # The run's record and trace first: the tool servers start in the background after it.
    async with server_run(graph, dict(config), runtime.execution_runtime.context) as traced:
        async with worker.use(context) as resources:
            yield graph.with_config(resources.config()).with_config(traced)


@asynccontextmanager
async def checkpointer() -> AsyncIterator[BaseCheckpointSaver]:
    """Checkpointer factory for langgraph.json: the same store the CLI uses."""
    from memento_graph.checkpoint import open_checkpointer

    context = await asyncio.to_thread(Context)
    async with open_checkpointer(context) as saver:
        yield saver
