"""The experience store in SQLite: `<home>/experience.sqlite` (sqlite-utils), its tables and upgrades.

One connection per file and process, behind a re-entrant lock; a write transaction is `BEGIN IMMEDIATE`,
so it holds SQLite's single write lock (across processes) from its first read to its commit.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from memento_graph.memory.experience_schema import EPISODES, POLICY_STATE, RETRIEVALS
from memento_graph.sqlite import open_db, sqlite_utils  # (without pandas)

# Per-case usage of each user, kept exact by triggers on retrievals (each retrieval carries a copy of its
# episode's reward), so ranking, counting and sweeping cases read one row per case: no join, no scan.
_ADD = """insert into case_usage values (new.user, new.case_id, 1, coalesce(new.reward, 0),
    coalesce(new.credit, 0), coalesce(new.credit * new.reward, 0))
    on conflict (user, case_id) do update set shown = shown + 1, rewards = rewards + excluded.rewards,
    credit = credit + excluded.credit, successes = successes + excluded.successes;"""
_REMOVE = """update case_usage set shown = shown - 1, rewards = rewards - coalesce(old.reward, 0),
    credit = credit - coalesce(old.credit, 0), successes = successes - coalesce(old.credit * old.reward, 0)
    where user = old.user and case_id = old.case_id;"""
_CASE_USAGE = (
    "create table case_usage (user text, case_id text, shown integer, rewards real, credit real, "
    "successes real, primary key (user, case_id)) without rowid",  # a user's rows read in one run
    "insert into case_usage select user, case_id, count(*), total(reward), total(credit), "
    "total(credit * reward) from retrievals group by user, case_id",
    f"create trigger case_usage_add after insert on retrievals begin {_ADD} end",
    f"create trigger case_usage_remove after delete on retrievals begin {_REMOVE} end",
    "create trigger case_usage_change after update of user, case_id, credit, reward on retrievals "
    f"begin {_REMOVE} {_ADD} end",
)


class SqliteExperience:
    """The SQLite connection of an experience store (`?` placeholders, as the store writes them)."""

    for_update = ""  # BEGIN IMMEDIATE already holds the write lock

    def __init__(self, path: Path) -> None:
        """Open (creating or upgrading) the store at `path`."""
        self.path = path
        self.where = str(path)
        self.lock = threading.RLock()
        self.db = open_db(path, _create)

    @contextmanager
    def read(self) -> Iterator[Any]:
        """Yield the connection for reads (inside a write transaction of this thread: that one)."""
        with self.lock:
            yield self.db.conn

    @contextmanager
    def write(self) -> Iterator[Any]:
        """Yield the connection inside one write transaction (nested: the outer one)."""
        with self.lock:
            conn = self.db.conn
            if conn.in_transaction:
                yield conn
                return
            conn.execute("begin immediate")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()

    def lock_key(self, conn: Any, key: str) -> None:
        """Serialise writers of one key: BEGIN IMMEDIATE serialises every writer already."""

    def close(self) -> None:
        """Close the connection."""
        self.db.conn.close()


def _create(db: sqlite_utils.Database) -> None:
    db.table("episodes").create(EPISODES, pk="thread_id", if_not_exists=True)
    db.table("retrievals").create(RETRIEVALS, pk=("thread_id", "case_id"), if_not_exists=True)
    db.table("policy_state").create(POLICY_STATE, pk="key", if_not_exists=True)
    db.execute(
        "create table if not exists case_index (bank text, case_id text, status text, reward real, "
        "primary key (bank, case_id)) without rowid"  # a bank's rows read in one run
    )
    db.table("case_index").create_index(["bank", "status", "reward"], if_not_exists=True)
    db.table("retrievals").create_index(["case_id"], if_not_exists=True)
    db.table("episodes").create_index(["user", "created_at"], if_not_exists=True)
    db.table("episodes").create_index(["user", "created_at", "reward"], if_not_exists=True)
    db.execute("PRAGMA recursive_triggers = ON")  # a replaced retrieval leaves case_usage too
    if (
        "reward" not in db["retrievals"].columns_dict
        or "case_usage" not in db.table_names()
        or "version" not in db["policy_state"].columns_dict
        or "reward_confidence" not in db["episodes"].columns_dict
    ):
        _upgrade(db)


def _upgrade(db: sqlite_utils.Database) -> None:
    """Give a store made by an older version what it lacks, once (write-locked).

    That is: the retrievals' reward copies, case_usage, the policy states' version, the episodes'
    reward confidence and attribution.
    """
    conn = db.conn
    conn.execute("begin immediate")
    try:
        if "reward" not in db["retrievals"].columns_dict:
            conn.execute("alter table retrievals add column reward float")
            conn.execute(
                "update retrievals set reward = "
                "(select reward from episodes e where e.thread_id = retrievals.thread_id)"
            )
        if "case_usage" not in db.table_names():
            for sql in _CASE_USAGE:
                conn.execute(sql)
        if "version" not in db["policy_state"].columns_dict:
            conn.execute("alter table policy_state add column version integer not null default 0")
        if "reward_confidence" not in db["episodes"].columns_dict:
            # older episodes: certain when ground truth or the user gave the reward; a judge's
            # confidence was not asked then (unknown: null); their credits stay as recorded
            conn.execute("alter table episodes add column reward_confidence float")
            conn.execute("alter table episodes add column attribution text")
            conn.execute(
                "update episodes set reward_confidence = 1.0 where reward is not null "
                "and judge_source in ('ground_truth', 'user')"
            )
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
