"""A run in LangGraph's server (`langgraph dev`, Studio, the SDK) kept like a CLI run.

The thread index (`memento threads`) records it with the status the CLI gives (running, then done,
paused, interrupted, rejected or failed), and LangSmith gets the CLI's run name ("memento run" or
"memento resume"), tags, metadata (thread id, policy, models; case ids and reward at the end) and
the reward as feedback, with the judge's rationale as its comment. Blocking calls (SQLite, the
LangSmith client) run in threads: the server's event loop serves other requests meanwhile.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from memento_graph.agent import model_error  # imported with the graph, not in a run's factory
from memento_graph.context import Context
from memento_graph.thread_index import ThreadIndex, thread_status
from memento_graph.tracing import Trace


def run_context(context: Any) -> Context:
    """Return the run's Context from what the server passes (a Context, a dict or nothing)."""
    if isinstance(context, Context):
        return context
    names = {f.name for f in dataclasses.fields(Context)}
    given = {k: v for k, v in dict(context or {}).items() if k in names and v is not None}
    return Context(**given)


def server_run_id(config: dict[str, Any]) -> Any:
    """Return the server's id of the run (the root of its trace), or None."""
    return config.get("run_id") or (config.get("metadata") or {}).get("run_id")


def _known(thread_id: str, context: Any) -> tuple[Context, bool]:
    """Return the run's Context and whether the thread index knows the thread's task (a resume)."""
    ctx = run_context(context)
    if not (ctx.home_path / "runs.sqlite").exists():  # no index yet: nothing to resume
        return ctx, False
    row = ThreadIndex(ctx.home_path).get(thread_id)
    return ctx, bool(row and row.get("task"))


def _mark_running(thread_id: str, ctx: Context) -> ThreadIndex:
    """Record the thread as running in the index (a new row, its task filled in at the end)."""
    index = ThreadIndex(ctx.home_path)
    if index.get(thread_id) is None:
        index.start(thread_id, "", ctx)
    else:
        index.update(thread_id, status="running", pid=os.getpid(), error=None)
    return index


def _ended(index: ThreadIndex, thread_id: str, snapshot: Any, trace_run: Any) -> None:
    values = snapshot.values or {}
    fields: dict[str, Any] = {"status": thread_status(snapshot), "answer": values.get("answer")}
    if values.get("task") and not (index.get(thread_id) or {}).get("task"):
        fields["task"] = values["task"]
    if trace_run:  # `memento feedback` sends the user's verdict to this run
        fields["trace_run"] = str(trace_run)
    index.update(thread_id, error=None, **fields)


async def _saver(ctx: Context) -> Any:
    """Return a checkpointer (to enter) on the CLI's store, opened without blocking the loop."""
    from memento_graph.checkpoint import checkpoint_url, open_checkpointer

    if checkpoint_url():  # PostgreSQL: nothing on the file system
        return open_checkpointer(ctx)
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    path = await asyncio.to_thread(lambda: ctx.home_path / "threads.sqlite")
    return AsyncSqliteSaver.from_conn_string(str(path))  # connects in aiosqlite's thread


@asynccontextmanager
async def server_run(graph: Any, config: dict[str, Any], context: Any) -> AsyncIterator[Any]:
    """Yield the run's tracing config (names, tags, metadata) for the compiled `graph`.

    The run is recorded in the thread index around it.
    """
    thread_id = str((config.get("configurable") or {}).get("thread_id") or "")
    if not thread_id:  # a stateless run: no thread to record
        yield {}
        return
    ctx, known = await asyncio.to_thread(_known, thread_id, context)
    # LangGraph's server counts the factory's time before the run as graph loading: the index is
    # written while the run goes on, the checkpoints are read after it.
    marking = asyncio.ensure_future(asyncio.to_thread(_mark_running, thread_id, ctx))
    trace = Trace(ctx, thread_id, "resume" if known else "run", server_run_id(config))
    traced = await asyncio.to_thread(trace.config, {})
    try:
        yield traced
    except Exception as exc:
        found = model_error(exc)
        message = found[1] if found else f"{type(exc).__name__}: {exc}"
        index = await marking
        await asyncio.to_thread(index.update, thread_id, status="failed", error=message)
        raise
    except BaseException:  # cancelled in Studio, or the server stopping: resumable
        index = await asyncio.shield(marking)
        await asyncio.to_thread(index.update, thread_id, status="interrupted")
        raise
    index = await marking
    async with await _saver(ctx) as saver:
        reader = graph.copy(update={"checkpointer": saver})
        after = await reader.aget_state({"configurable": {"thread_id": thread_id}})
    values = after.values or {}
    await trace.finish(values.get("reward"), (values.get("judge") or {}).get("rationale"))
    await asyncio.to_thread(_ended, index, thread_id, after, trace.run_id)
