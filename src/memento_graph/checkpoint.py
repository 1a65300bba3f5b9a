"""The checkpointer that makes every thread resumable: SQLite in the data directory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from langgraph.checkpoint.base import BaseCheckpointSaver

from memento_graph.context import Context


@asynccontextmanager
async def open_checkpointer(context: Context) -> AsyncIterator[BaseCheckpointSaver]:
    """Open the SQLite checkpointer at `<home>/threads.sqlite` (WAL, so readers never block)."""
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    path = context.home_path / "threads.sqlite"
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        await saver.conn.execute("PRAGMA journal_mode=WAL")
        await saver.conn.execute("PRAGMA busy_timeout=10000")
        yield saver
