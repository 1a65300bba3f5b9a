"""`memento threads` and `memento threads show`: the thread index and one thread's steps."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from rich.console import Console

from memento_graph.errors import MementoError

out = Console()
app = typer.Typer(help="List threads (runs) and show one.", invoke_without_command=True)


@app.callback()
def threads(
    typer_ctx: typer.Context,
    limit: Annotated[
        int, typer.Option(min=1, max=1_000_000, help="How many threads to list.")
    ] = 30,
) -> None:
    """List threads, newest first: status (done, interrupted, failed, running), task, time."""
    if typer_ctx.invoked_subcommand:
        return
    from rich.table import Table

    from memento_graph.context import Context
    from memento_graph.thread_index import ThreadIndex

    table = Table()
    table.add_column("thread", no_wrap=True)  # an id to copy: never wrapped
    for name in ("status", "started", "task"):
        table.add_column(name)
    for row in ThreadIndex(Context().home_path).list(limit):
        table.add_row(row["thread_id"], row["status"], row["started_at"], row["task"][:70])
    out.print(table)


@app.command("show")
def threads_show(thread_id: Annotated[str, typer.Argument(help="The thread to show.")]) -> None:
    """Show a thread: retrieved cases, plans, subtasks with results, answer and reward."""
    from memento_graph.context import Context
    from memento_graph.progress import show_thread
    from memento_graph.thread_index import ThreadIndex

    row = ThreadIndex(Context().home_path).get(thread_id)
    if row is None:
        raise MementoError(f"unknown thread: {thread_id} (see `memento threads`)")
    show_thread(out, row, asyncio.run(_values(thread_id)))


async def _values(thread_id: str) -> dict[str, Any]:
    from memento_graph.checkpoint import open_checkpointer
    from memento_graph.context import Context
    from memento_graph.graph import graph_builder

    async with open_checkpointer(Context()) as saver:
        graph = graph_builder().compile(checkpointer=saver)
        snapshot = await graph.aget_state({"configurable": {"thread_id": thread_id}})
        return dict(snapshot.values or {})
