"""Run and resume tasks on the graph with a checkpointer and the tools (used by the CLI and eval)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import openai
from langgraph.types import Command

from memento_graph.context import Context
from memento_graph.errors import MementoError
from memento_graph.killpoints import reached
from memento_graph.resources import MemoryOpener, Resources
from memento_graph.state import ThreadStatus
from memento_graph.thread_index import ThreadIndex, thread_status
from memento_graph.tracing import Trace

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

Event = Callable[[str, dict[str, Any]], None]
"""Progress callback: (node name, its state update), or (kind, event) for a live.py event."""


@dataclass
class Outcome:
    """How a run ended."""

    thread_id: str
    status: ThreadStatus
    """done, failed, interrupted, paused (waiting for plan approval) or rejected."""
    answer: str | None = None
    reward: float | None = None
    case_id: str | None = None
    cases_used: list[str] = field(default_factory=list)
    tokens: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None
    error_kind: str | None = None
    """For model endpoint errors: auth, not_found, timeout, unreachable or status."""
    note: str | None = None
    interrupt: Any = None
    subtasks: int = 0
    """Subtasks that ran (done or failed)."""
    tool_calls: int = 0
    """Tool calls made by all subtasks."""


def model_error(exc: Exception) -> tuple[str, str] | None:
    """Return (kind, one-line message) for a model endpoint error, or None for other errors.

    Kinds: auth, not_found, timeout, unreachable, status. The first two and `unreachable` will not
    go away by retrying the same thread.
    """
    base = os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
    if isinstance(exc, openai.AuthenticationError):
        return "auth", f"the model endpoint {base} rejected the API key (401)"
    if isinstance(exc, openai.NotFoundError):
        return "not_found", f"the model endpoint {base} says: {exc.message}"
    if isinstance(exc, openai.APITimeoutError):
        return "timeout", f"the model endpoint {base} timed out"
    if isinstance(exc, openai.APIConnectionError):
        return "unreachable", f"cannot reach the model endpoint {base} ({exc.__cause__ or exc})"
    if isinstance(exc, openai.APIStatusError):
        return "status", f"the model endpoint {base} failed: {exc.status_code} {exc.message}"
    return None


class Agent:
    """The compiled graph with its checkpointer and resources, ready to run or resume threads."""

    def __init__(self, graph: Any, context: Context, resources: Resources) -> None:
        """Wrap a graph compiled with a checkpointer, and the tools and memory its nodes use."""
        self.graph = graph
        self.context = context
        self.resources = resources
        self.index = ThreadIndex(context.home_path)

    def with_context(self, context: Context) -> Agent:
        """Return the same agent (graph, checkpointer, resources) running with `context`."""
        return Agent(self.graph, context, self.resources)

    async def run(
        self,
        task: str,
        *,
        files: list[str] | tuple[str, ...] = (),
        ground_truth: str | None = None,
        thread_id: str | None = None,
        on_event: Event | None = None,
    ) -> Outcome:
        """Start a new thread for `task` and run it to the end (or to a pause)."""
        if not task or not task.strip():
            raise MementoError("the task is empty: give the question or instruction to work on")
        paths = []
        for f in files:
            p = Path(f).expanduser()
            if not p.is_file():
                raise MementoError(f"no such file: {f}")
            paths.append(str(p.resolve()))
        self.resources.allow(paths)  # the tool servers may read the task's files
        thread_id = thread_id or str(uuid.uuid4())  # a UUID: LangGraph server and Studio need one
        if (await self._snapshot(thread_id)).values:  # an index row alone: killed before any step
            raise MementoError(
                f"thread {thread_id} exists already: use `memento resume {thread_id}`"
            )
        self.index.start(thread_id, task.strip(), self.context)
        reached("thread_started")  # a test hook (killpoints.py)
        state = {"task": task.strip(), "files": paths, "ground_truth": ground_truth}
        return await self._drive(state, thread_id, on_event)

    async def resume(
        self, thread_id: str, *, on_event: Event | None = None, decision: Any = None
    ) -> Outcome:
        """Continue a thread where it stopped; `decision` answers a pending plan approval."""
        snapshot = await self._snapshot(thread_id)
        if not snapshot.values:
            if self.index.get(thread_id) is not None:  # killed before its first checkpoint
                raise MementoError(
                    f"thread {thread_id} stopped before its first step: nothing to resume; run "
                    f"the task again with `memento run TASK --thread-id {thread_id}`"
                )
            raise MementoError(f"unknown thread: {thread_id} (see `memento threads`)")
        if not snapshot.next:
            row = self.index.get(thread_id)
            if row is not None and row["status"] == "interrupted":  # killed after its last step
                return await self._outcome(thread_id, None, 0.0)
            raise MementoError(f"thread {thread_id} is already done (see `memento threads show`)")
        self.index.update(thread_id, status="running", pid=os.getpid(), error=None)
        paused = any(t.interrupts for t in snapshot.tasks)
        payload: Command[Any] | None = (
            Command(resume=decision) if paused and decision is not None else None
        )
        return await self._drive(payload, thread_id, on_event)

    async def _snapshot(self, thread_id: str) -> Any:
        return await self.graph.aget_state({"configurable": {"thread_id": thread_id}})

    async def _drive(self, payload: Any, thread_id: str, on_event: Event | None) -> Outcome:
        trace = Trace(self.context, thread_id, "run" if isinstance(payload, dict) else "resume")
        config = trace.config({"configurable": {"thread_id": thread_id}, "recursion_limit": 200})
        config = self.resources.config(config)
        started = time.monotonic()
        error = None
        if on_event:
            on_event("thread", {"thread_id": thread_id})
        try:
            modes = ["updates", "custom"] if on_event else ["updates"]  # custom: live.py events
            with trace.scope():
                async for mode, chunk in self.graph.astream(
                    payload, config, context=self.context, stream_mode=modes, durability="sync"
                ):
                    if mode == "custom":
                        if on_event and isinstance(chunk, dict) and "event" in chunk:
                            on_event(chunk["event"], chunk)
                        continue
                    for node, value in chunk.items():
                        if on_event:
                            on_event(node, value if isinstance(value, dict) else {"value": value})
                        reached(f"after:{node}")  # a test hook (killpoints.py)
        except MementoError as exc:
            self.index.update(thread_id, status="failed", error=str(exc))
            raise
        except Exception as exc:  # noqa: BLE001 - a model error ends the run, resumable
            error = model_error(exc)
            if error is None:
                self.index.update(thread_id, status="failed", error=f"{type(exc).__name__}: {exc}")
                raise
        outcome = await self._outcome(thread_id, error, time.monotonic() - started)
        judge = (
            ((await self._snapshot(thread_id)).values or {}).get("judge") if trace.active else None
        )
        await trace.finish(outcome.reward, (judge or {}).get("rationale"))
        if trace.active:  # `memento feedback` sends the user's verdict to this run
            self.index.update(thread_id, trace_run=str(trace.run_id))
        return outcome

    async def outcome(self, thread_id: str) -> Outcome:
        """Return how a thread stands now (for a thread that finished in an earlier process)."""
        return await self._outcome(thread_id, None, 0.0)

    async def _outcome(
        self, thread_id: str, error: tuple[str, str] | None, seconds: float
    ) -> Outcome:
        snapshot = await self._snapshot(thread_id)
        values = snapshot.values or {}
        interrupts = [i.value for t in snapshot.tasks for i in t.interrupts]
        status = thread_status(snapshot, failed=error is not None)
        kind, message = error or (None, None)
        results = values.get("results") or {}
        self.index.update(thread_id, status=status, error=message, answer=values.get("answer"))
        return Outcome(
            thread_id=thread_id,
            status=status,
            answer=values.get("answer"),
            reward=values.get("reward"),
            case_id=values.get("case_id"),
            cases_used=[c["id"] for c in values.get("cases") or []],
            tokens=dict(values.get("tokens") or {}),
            seconds=seconds,
            error=message,
            error_kind=kind,
            note=values.get("note"),
            interrupt=interrupts[0] if interrupts else None,
            subtasks=sum(r.get("status") != "skipped" for r in results.values()),
            tool_calls=sum(int(r.get("tool_calls") or 0) for r in results.values()),
        )


@asynccontextmanager
async def open_agent(
    context: Context,
    *,
    tools: Sequence[BaseTool] = (),
    open_memory: MemoryOpener | None = None,
    catalogue_home: Path | None = None,
) -> AsyncIterator[Agent]:
    """Open the checkpointer, and yield an Agent for any number of runs.

    The memory opens in the background while the graph is built and the first run begins; the
    tool servers start then too, unless their catalogue is cached (then they start when a plan
    names a tool, see tool_source.py). Nodes wait for either only when they need it. The embedder
    is made first (the local model downloaded once if missing) and awaited before the Agent is
    yielded: a machine that cannot get it fails here, before any thread exists. `tools` are plain
    LangChain tools offered before the MCP ones; `open_memory` replaces how a memory opens;
    `catalogue_home` holds the tool catalogue cache when not the context's home (eval runs).
    """
    from memento_graph.checkpoint import open_checkpointer
    from memento_graph.tool_source import ToolSource
    from memento_graph.toolbox import check_servers

    embedder = None
    if context.policy != "none":
        from memento_graph.memory.embeddings import make_embedder

        embedder = asyncio.ensure_future(
            asyncio.to_thread(make_embedder, context.embedding_model, context)
        )
        embedder.add_done_callback(lambda f: f.cancelled() or f.exception())  # no warning
    await asyncio.to_thread(check_servers, context)  # a bad mcp.json: one line, nothing started
    source = ToolSource(context, tools, catalogue_home)
    resources = Resources(source, open_memory) if open_memory else Resources(source)
    resources.prepare_memory(context)
    if not await source.has_catalogue():
        source.start()
    try:
        if embedder is not None:
            await embedder
        async with open_checkpointer(context) as saver:
            from memento_graph.graph import graph_builder

            yield Agent(
                graph_builder().compile(checkpointer=saver, name="memento"), context, resources
            )
    finally:
        await resources.aclose()
