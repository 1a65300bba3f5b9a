"""The experience store in PostgreSQL (psycopg): processes on several machines share episodes and the policy.

`MEMENTO_EXPERIENCE_URL=postgresql://...` selects it; unset, it follows a PostgreSQL
`MEMENTO_CHECKPOINT_URL` (`sqlite` keeps experience.sqlite in the data directory). The tables are those of `experience_schema` (new columns are added on open);
case_usage is kept by a trigger as in SQLite. Every write transaction first takes one
transaction-scoped advisory lock, so writers queue as they do on SQLite's single write lock: a
read-modify-write (a policy state, an episode count) sees no other writer, and the triggers' row
updates, made in any order, cannot deadlock. Reads never wait.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from memento_graph.errors import MementoError
from memento_graph.memory.experience_schema import CASE_INDEX, EPISODES, POLICY_STATE, RETRIEVALS
from memento_graph.settings import SETTINGS

WRITE_LOCK = (0x6D656D65, 0x65787065)  # advisory lock ("meme", "expe"): one writer at a time
SCHEMES = ("postgresql://", "postgres://")
_TYPES = {str: "text", float: "double precision", int: "bigint", bytes: "bytea"}
_CASE_USAGE = """
create or replace function memento_case_usage() returns trigger language plpgsql as $$
begin
  if tg_op in ('DELETE', 'UPDATE') then
    update case_usage u set shown = u.shown - 1, rewards = u.rewards - coalesce(old.reward, 0),
      credit = u.credit - coalesce(old.credit, 0),
      successes = u.successes - coalesce(old.credit * old.reward, 0)
      where u."user" = old."user" and u.case_id = old.case_id;
  end if;
  if tg_op in ('INSERT', 'UPDATE') then
    insert into case_usage as u values (new."user", new.case_id, 1, coalesce(new.reward, 0),
      coalesce(new.credit, 0), coalesce(new.credit * new.reward, 0))
      on conflict ("user", case_id) do update set shown = u.shown + 1,
      rewards = u.rewards + excluded.rewards, credit = u.credit + excluded.credit,
      successes = u.successes + excluded.successes;
  end if;
  return null;
end $$"""


def postgres_url() -> str:
    """Return the experience store's PostgreSQL URL, or '' for experience.sqlite in the data directory.

    That is MEMENTO_EXPERIENCE_URL (a PostgreSQL URL, or `sqlite`), or when it is unset a
    PostgreSQL MEMENTO_CHECKPOINT_URL.
    """
    url = SETTINGS.experience_url
    if url.lower() == "sqlite":
        return ""
    follow = SETTINGS.checkpoint_url
    return url or (follow if follow.startswith(SCHEMES) else "")


class _Connection:
    """A psycopg connection that takes the store's `?` placeholders."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Any = ()) -> Any:
        return self.conn.execute(_native(sql), params)

    def executemany(self, sql: str, rows: list[Any]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(_native(sql), rows)


def _native(sql: str) -> str:
    """Return SQL with the store's `?` placeholders as psycopg's `%s`."""
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresExperience:
    """The PostgreSQL connections of an experience store (a small pool per process)."""

    def __init__(self, url: str) -> None:
        """Connect (a one-line error when the server is not reachable) and make the tables once."""
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise MementoError(
                "the experience store in PostgreSQL needs psycopg: pip install 'memento-graph[server]'"
            ) from None
        from memento_graph.checkpoint import _safe

        self.where = _safe(url)
        try:
            with psycopg.connect(url, connect_timeout=5) as conn:
                conn.execute("select pg_advisory_xact_lock(%s, %s)", WRITE_LOCK)
                for sql in _tables():
                    conn.execute(sql)
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split())[:200]
            raise MementoError(
                f"cannot use the experience database {self.where}: {reason}"
            ) from None
        self.pool = ConnectionPool(url, min_size=1, max_size=4, open=True, timeout=30)
        self._held = threading.local()
        atexit.register(self.close)

    @contextmanager
    def read(self) -> Iterator[_Connection]:
        """Yield a connection for reads (inside a write transaction of this thread: that one)."""
        held = getattr(self._held, "conn", None)
        if held is not None:
            yield held
            return
        with self.pool.connection() as conn:
            yield _Connection(conn)

    @contextmanager
    def write(self) -> Iterator[_Connection]:
        """Yield a connection inside one write transaction, committed at the end (nested: the outer)."""
        held = getattr(self._held, "conn", None)
        if held is not None:
            yield held
            return
        with self.pool.connection() as conn:
            conn.execute("select pg_advisory_xact_lock(%s, %s)", WRITE_LOCK)
            self._held.conn = _Connection(conn)
            try:
                yield self._held.conn
            finally:
                self._held.conn = None

    def close(self) -> None:
        """Close the pool."""
        self.pool.close()


def _tables() -> Iterator[str]:
    """Yield the statements that make (or complete) the tables, indexes and trigger."""
    tables = {
        "episodes": (EPISODES, "thread_id"),
        "retrievals": (RETRIEVALS, "thread_id, case_id"),
        "policy_state": (POLICY_STATE, '"key"'),
        "case_index": (CASE_INDEX, "bank, case_id"),
    }
    for name, (columns, key) in tables.items():
        body = ", ".join(f'"{c}" {_TYPES[t]}' for c, t in columns.items())
        yield f"create table if not exists {name} ({body}, primary key ({key}))"
        for column, kind in columns.items():  # a store made before a column was added
            yield f'alter table {name} add column if not exists "{column}" {_TYPES[kind]}'
    yield (
        'create table if not exists case_usage ("user" text, case_id text, shown bigint, '
        "rewards double precision, credit double precision, successes double precision, "
        'primary key ("user", case_id))'
    )
    yield "create index if not exists retrievals_case_id on retrievals (case_id)"
    yield "create index if not exists case_index_tally on case_index (bank, status, reward)"
    yield 'create index if not exists episodes_user_created on episodes ("user", created_at, reward)'
    yield _CASE_USAGE
    yield (
        "create or replace trigger case_usage_change after insert or delete or update of "
        '"user", case_id, credit, reward on retrievals for each row execute function '
        "memento_case_usage()"
    )
