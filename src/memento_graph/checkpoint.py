"""The checkpointer that makes every thread resumable: SQLite in the data directory, or PostgreSQL.

`MEMENTO_CHECKPOINT_URL=postgresql://...` switches to langgraph-checkpoint-postgres, so several
processes (CLI runs, a LangGraph server) share one store of threads.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from memento_graph.context import Context
from memento_graph.errors import MementoError
from memento_graph.settings import SETTINGS

SETUP_LOCK = 0x6D656D656E746F  # advisory lock id ("memento"): one process migrates at a time


def checkpoint_url() -> str:
    """Return `MEMENTO_CHECKPOINT_URL` (empty means SQLite in the data directory)."""
    return SETTINGS.checkpoint_url


@asynccontextmanager
async def open_checkpointer(context: Context) -> AsyncIterator[BaseCheckpointSaver]:
    """Open the checkpointer: PostgreSQL when `MEMENTO_CHECKPOINT_URL` is set, else SQLite."""
    url = checkpoint_url()
    if not url:
        async with open_sqlite(context) as saver:
            yield saver
    elif url.startswith(("postgresql://", "postgres://")):
        async with open_postgres(url) as saver:
            yield saver
    else:
        raise MementoError(
            f"MEMENTO_CHECKPOINT_URL={url!r} is not supported: use postgresql://user@host:port/db"
        )


@asynccontextmanager
async def open_sqlite(context: Context) -> AsyncIterator[BaseCheckpointSaver]:
    """Open the SQLite checkpointer at `<home>/threads.sqlite` (WAL, so readers never block)."""
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    path = context.home_path / "threads.sqlite"
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        await saver.conn.execute("PRAGMA journal_mode=WAL")
        await saver.conn.execute("PRAGMA busy_timeout=10000")
        yield saver


@asynccontextmanager
async def open_postgres(url: str) -> AsyncIterator[BaseCheckpointSaver]:
    """Open an AsyncPostgresSaver on a connection pool; create its tables once (advisory lock)."""
    import psycopg
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import DictRow, dict_row
    from psycopg_pool import AsyncConnectionPool

    try:  # one plain connection first: a clear error now instead of a pool retrying for long
        probe = await psycopg.AsyncConnection.connect(url, connect_timeout=5)
        await probe.close()
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split())[:200]
        raise MementoError(f"cannot reach the checkpoint database {_safe(url)}: {reason}") from None
    kwargs = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    pool: AsyncConnectionPool[psycopg.AsyncConnection[DictRow]] = AsyncConnectionPool(
        url, min_size=1, max_size=4, kwargs=kwargs, open=False
    )
    await pool.open(wait=True, timeout=30)
    try:
        saver = AsyncPostgresSaver(pool)
        async with pool.connection() as conn:
            await _lock(conn)
            try:
                await saver.setup()
            finally:
                await conn.execute("SELECT pg_advisory_unlock(%s)", (SETUP_LOCK,))
        yield saver
    finally:
        await pool.close()


async def _lock(conn: Any, timeout: float = 120) -> None:
    """Take the setup lock by polling.

    A session blocked in pg_advisory_lock holds a snapshot that the migrations' CREATE INDEX
    CONCURRENTLY waits for: a deadlock Postgres does not detect.
    """
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        cur = await conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (SETUP_LOCK,))
        if (await cur.fetchone())["ok"]:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise MementoError(
                "timed out waiting for another process to set up the checkpoint tables"
            )
        await asyncio.sleep(0.2)


def _safe(url: str) -> str:
    """Return a database URL without its password."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{port}{parts.path}"
