"""The experience store: episodes, the cases each one was shown, policy states; SQLite or PostgreSQL.

It is the learned policy's training data and the audit trail of every case: usage and credit of a case are
derived from its retrievals, so they are exact and never counted twice. The SQL here is shared by both
databases (`?` placeholders); `experience_sqlite` and `experience_postgres` hold their connections and tables.

A policy state carries a version that counts its saves. `hold_state` is its read-modify-write: it holds
the store's write lock from reading the newest state to saving the next version, so a learning step made
by one process starts from every step saved before it, by any process, and none is overwritten.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from memento_graph.memory.experience_schema import JSON_FIELDS, upsert
from memento_graph.memory.policy_state import HeldState, read_state
from memento_graph.memory.schema import CaseUsage, now_iso

SUSPECTS = 1000  # most cases one quarantine sweep re-checks (the likeliest bad first)
RECOUNT = 1000  # episode_count calls between exact counts


def _usage(rows: list[tuple[float, float]]) -> CaseUsage:
    """Return a case's usage from the (reward, credit) of each episode it was shown in, oldest first."""
    rewards = [reward for reward, _ in rows]
    return {"times_retrieved": len(rows), "rewards": rewards,
            "credit_uses": sum((credit for _, credit in rows), 0.0),
            "credit_successes": sum((credit * reward for reward, credit in rows), 0.0),
            "mean_reward": sum(rewards) / len(rewards) if rewards else None}  # fmt: skip


def _rows(cursor: Any) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class ExperienceStore:
    """Episodes and retrievals of every user: `<home>/experience.sqlite`, or a PostgreSQL database."""

    def __init__(self, path: Path | None = None, url: str = "") -> None:
        """Open the store in SQLite at `path`, or in PostgreSQL at `url`."""
        if url:
            from memento_graph.memory.experience_postgres import PostgresExperience

            self.db: Any = PostgresExperience(url)
        else:
            from memento_graph.memory.experience_sqlite import SqliteExperience

            self.db = SqliteExperience(Path(path or "experience.sqlite"))
        self.path, self.where = path, self.db.where
        self.lock = threading.RLock()
        self._counts: dict[str, list[int]] = {}  # user: [episodes, calls since counted]

    def episode(self, thread_id: str) -> dict[str, Any] | None:
        """Return one episode with its retrievals, or None."""
        with self.db.read() as conn:
            rows = _rows(conn.execute("select * from episodes where thread_id = ?", [thread_id]))
            if not rows:
                return None
            episode = rows[0]
            episode["retrieved"] = _rows(
                conn.execute(
                    "select * from retrievals where thread_id = ? order by rank", [thread_id]
                )
            )
        for key in JSON_FIELDS:
            episode[key] = json.loads(episode[key]) if episode.get(key) else {}
        episode["attribution"] = (
            json.loads(episode["attribution"]) if episode.get("attribution") else None
        )
        vec = episode.pop("task_embedding", None)
        episode["task_embedding"] = np.frombuffer(vec, dtype=np.float32) if vec else None
        return episode

    def record(self, episode: dict[str, Any], retrievals: list[dict[str, Any]]) -> None:
        """Store an episode and its retrievals in one transaction (replacing any earlier record)."""
        row = dict(episode)
        for key in JSON_FIELDS:
            row[key] = json.dumps(row.get(key) or {})
        row["attribution"] = json.dumps(row["attribution"]) if row.get("attribution") else None
        vec = row.pop("task_embedding", None)
        row["task_embedding"] = (
            np.asarray(vec, dtype=np.float32).tobytes() if vec is not None else None
        )
        row["created_at"] = row.get("created_at") or now_iso()
        row["updated_at"] = now_iso()
        # each retrieval keeps a copy of the episode's reward, so per-case totals need no join; one
        # row per case (the last wins), written in case order
        shown = {"thread_id": row["thread_id"], "created_at": row["updated_at"],
                 "reward": row.get("reward")}  # fmt: skip
        by_case = {r["case_id"]: {**r, **shown} for r in retrievals}
        with self.lock, self.db.write() as conn:
            found = "select count(*) from episodes where thread_id = ?"
            new = not conn.execute(found, [row["thread_id"]]).fetchone()[0]
            conn.execute("delete from retrievals where thread_id = ?", [row["thread_id"]])
            for case_id in sorted(by_case):
                r = by_case[case_id]
                names = ", ".join(f'"{c}"' for c in r)
                sql = f"insert into retrievals ({names}) values ({', '.join('?' * len(r))})"
                conn.execute(sql, list(r.values()))
            conn.execute(*upsert("episodes", row, "thread_id"))
            known = self._counts.get(row["user"]) if row.get("user") is not None else None
            if known and new:
                known[0] += 1  # a new episode of a counted user

    def update_episode(self, thread_id: str, **fields: Any) -> None:
        """Change fields of one episode (a new reward reaches its retrievals' copies too)."""
        fields = {**fields, "updated_at": now_iso()}
        change = ", ".join(f'"{c}" = ?' for c in fields)
        with self.db.write() as conn:
            sql = f"update episodes set {change} where thread_id = ?"
            conn.execute(sql, [*fields.values(), thread_id])
            if "reward" in fields:
                conn.execute(
                    "update retrievals set reward = ? where thread_id = ?",
                    [fields["reward"], thread_id],
                )

    def set_credits(self, thread_id: str, credits: dict[str, float]) -> None:
        """Replace the per-case credit of an episode's retrievals."""
        sql = "update retrievals set credit = ? where thread_id = ? and case_id = ?"
        with self.db.write() as conn:
            for case_id in sorted(credits):
                conn.execute(sql, [float(credits[case_id]), thread_id, case_id])

    def usage(self, case_ids: list[str]) -> dict[str, CaseUsage]:
        """Return usage per case: times retrieved, rewards of those episodes, credited successes and uses."""
        found: dict[str, list[tuple[float, float]]] = {c: [] for c in case_ids}  # (reward, credit)
        if case_ids:
            with self.db.read() as conn:
                for start in range(0, len(case_ids), 900):
                    part = case_ids[start : start + 900]
                    marks = ",".join("?" * len(part))
                    sql = (
                        "select r.case_id, e.reward, r.credit from retrievals r join episodes e on "
                        f"e.thread_id = r.thread_id where r.case_id in ({marks}) order by e.created_at"
                    )
                    for case_id, reward, credit in conn.execute(sql, part).fetchall():
                        found[case_id].append((float(reward), float(credit or 0.0)))
        return {case_id: _usage(rows) for case_id, rows in found.items()}

    def mean_reward(self, user: str, recent: int = 500) -> float | None:
        """Return the mean reward of a user's most recent episodes (None without episodes)."""
        sql = (
            'select avg(reward) from (select reward from episodes where "user" = ? '
            "order by created_at desc limit ?) as recent"
        )
        with self.db.read() as conn:
            row = conn.execute(sql, [user, recent]).fetchone()
        return None if row[0] is None else float(row[0])

    def episode_count(self, user: str) -> int:
        """Return how many episodes a user has: counted once (O(episodes)), then kept by `record`.

        Episodes recorded by other processes are seen at the next count, every RECOUNT calls.
        """
        with self.lock:
            known = self._counts.get(user)
            if known is None or known[1] >= RECOUNT:
                with self.db.read() as conn:
                    sql = 'select count(*) from episodes where "user" = ?'
                    known = [conn.execute(sql, [user]).fetchone()[0], 0]
                self._counts[user] = known
            known[1] += 1
            return known[0]

    def suspects(
        self, user: str, min_credit: float, below: float, limit: int = SUSPECTS
    ) -> list[str]:
        """Return a user's cases with `min_credit`+ credited uses and a credited rate below `below`.

        At most `limit`, lowest rate first with the level `below` as a one-use prior (much evidence of a
        low rate comes before one failure), so one sweep's work is bounded.
        """
        sql = (
            'select case_id from case_usage where "user" = ? and shown > 0 and credit >= ? '
            "and successes < ? * credit order by (successes + ?) / (credit + 1.0), case_id limit ?"
        )
        args = [user, float(min_credit), float(below), float(below), int(limit)]
        with self.db.read() as conn:
            return [row[0] for row in conn.execute(sql, args).fetchall()]

    def totals(self, user: str) -> dict[str, CaseUsage]:
        """Return the usage of every case a user was shown, in one pass (as `usage`, without rewards)."""
        ids, table = self.totals_table(user)
        return {
            case_id: {"times_retrieved": int(shown), "mean_reward": None if math.isnan(mean) else mean,
                      "credit_uses": uses, "credit_successes": wins}
            for case_id, (shown, mean, uses, wins) in zip(ids, table.tolist(), strict=True)
        }  # fmt: skip

    def totals_table(self, user: str) -> tuple[list[str], np.ndarray]:
        """Return the ids of the cases a user was shown, and a table of their usage.

        Columns: times shown, mean reward of those episodes, credited uses, credited successes (from
        case_usage: one row per case).
        """
        sql = (
            "select case_id, shown, rewards / shown, credit, successes from case_usage "
            'where "user" = ? and shown > 0'
        )
        with self.db.read() as conn:
            rows = conn.execute(sql, [user]).fetchall()
        table = np.array([r[1:] for r in rows], dtype=float).reshape(len(rows), 4)
        return [r[0] for r in rows], table

    # -- policy states ---------------------------------------------------------------------------------
    def state_version(self, key: str) -> int:
        """Return the version of the state saved under a key (0 when none): one indexed read."""
        with self.db.read() as conn:
            row = conn.execute('select version from policy_state where "key" = ?', [key]).fetchone()
        return int(row[0] or 0) if row else 0

    def load_versioned(self, key: str) -> tuple[int, dict[str, np.ndarray] | None]:
        """Return (version, arrays) saved under a key; (0, None) when none."""
        with self.db.read() as conn:
            sql = 'select version, state from policy_state where "key" = ?'
            row = conn.execute(sql, [key]).fetchone()
        return (int(row[0] or 0), self._arrays(key, row[1])) if row else (0, None)

    def load_state(self, key: str) -> dict[str, np.ndarray] | None:
        """Return the arrays saved under a key, or None."""
        return self.load_versioned(key)[1]

    def save_state(self, key: str, arrays: dict[str, np.ndarray]) -> int:
        """Persist named numpy arrays (the learned policy) under a key as its next version; return it."""
        with self.hold_state(key) as held:
            return held.save(arrays)

    @contextmanager
    def hold_state(self, key: str) -> Iterator[HeldState]:
        """Hold the state under a key for one read-modify-write (the store's write transaction).

        No other process or thread writes the store until the block ends; `HeldState.save` writes
        the next version, committed at the end of the block (a failing block saves nothing).
        """
        with self.db.write() as conn:
            sql = 'select version, state from policy_state where "key" = ?'
            row = conn.execute(sql, [key]).fetchone()
            version, blob = (int(row[0] or 0), row[1]) if row else (0, None)
            yield HeldState(conn, key, version, blob, lambda b: self._arrays(key, b))

    def _arrays(self, key: str, blob: Any) -> dict[str, np.ndarray]:
        try:
            return read_state(bytes(blob) if isinstance(blob, memoryview) else blob)
        except ValueError as exc:
            from memento_graph.stores import StoreDamaged

            fix = "run `memento doctor --repair` (it resets the learned policy, episodes are kept)"
            raise StoreDamaged(f"{self.where} (policy state {key})", str(exc), fix) from None
