"""The experience store (SQLite via sqlite-utils): episodes, the cases each one was shown, policy state.

It is the learned policy's training data and the audit trail of every case: usage and credit of a case are
derived from its retrievals, so they are exact and never counted twice.
"""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from memento_graph.memory.schema import now_iso
from memento_graph.sqlite import open_db

SUSPECTS = 1000  # most cases one quarantine sweep re-checks (the likeliest bad first)
RECOUNT = 1000  # episode_count calls between exact counts
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


class ExperienceStore:
    """Episodes and retrievals of every user, in `<home>/experience.sqlite`."""

    def __init__(self, path: Path) -> None:
        self.lock = threading.RLock()
        self.path = path
        self.db = open_db(path, self._create)
        self._counts: dict[str, list[int]] = {}  # user: [episodes, calls since counted]

    @staticmethod
    def _create(db: sqlite_utils.Database) -> None:
        db["episodes"].create(
            {
                "thread_id": str, "user": str, "task": str, "plan": str, "answer": str,
                "reward": float, "judge_source": str, "judge_model": str, "judge_rationale": str,
                "policy": str, "models": str, "status": str, "case_id": str, "tokens": str,
                "note": str, "task_embedding": bytes, "created_at": str,
                "updated_at": str, "reward_confidence": float, "attribution": str,
            },
            pk="thread_id", if_not_exists=True,
        )  # fmt: skip
        db["retrievals"].create(
            {
                "thread_id": str, "case_id": str, "user": str, "rank": int, "score": float,
                "similarity": float, "policy": str, "credit": float, "reward": float,
                "created_at": str,
            },
            pk=("thread_id", "case_id"), if_not_exists=True,
        )  # fmt: skip
        db["policy_state"].create(
            {"key": str, "state": bytes, "updated_at": str}, pk="key", if_not_exists=True
        )
        db["retrievals"].create_index(["case_id"], if_not_exists=True)
        db["episodes"].create_index(["user", "created_at"], if_not_exists=True)
        db["episodes"].create_index(["user", "created_at", "reward"], if_not_exists=True)
        db.execute("PRAGMA recursive_triggers = ON")  # a replaced retrieval leaves case_usage too
        if (
            "reward" not in db["retrievals"].columns_dict
            or "case_usage" not in db.table_names()
            or "reward_confidence" not in db["episodes"].columns_dict
        ):
            ExperienceStore._upgrade(db)

    @staticmethod
    def _upgrade(db: sqlite_utils.Database) -> None:
        """Give a store made by an older version what it lacks, once (write-locked).

        That is: reward copies, case_usage, the episodes' reward confidence and attribution.
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

    def episode(self, thread_id: str) -> dict[str, Any] | None:
        """Return one episode with its retrievals, or None."""
        with self.lock:
            rows = list(self.db["episodes"].rows_where("thread_id = ?", [thread_id]))
            if not rows:
                return None
            episode = rows[0]
            episode["retrieved"] = list(
                self.db["retrievals"].rows_where("thread_id = ?", [thread_id], order_by="rank")
            )
        for key in ("models", "tokens"):
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
        for key in ("models", "tokens"):
            row[key] = json.dumps(row.get(key) or {})
        row["attribution"] = json.dumps(row["attribution"]) if row.get("attribution") else None
        vec = row.pop("task_embedding", None)
        row["task_embedding"] = (
            np.asarray(vec, dtype=np.float32).tobytes() if vec is not None else None
        )
        row["created_at"] = row.get("created_at") or now_iso()
        row["updated_at"] = now_iso()
        # retrievals first: the episode row (with its case id) marks the record done; each keeps a
        # copy of the episode's reward, so per-case totals need no join
        shown = {
            "thread_id": row["thread_id"],
            "created_at": row["updated_at"],
            "reward": row.get("reward"),
        }
        with self.lock:
            known = self._counts.get(row.get("user"))
            if known and not self.db["episodes"].count_where("thread_id = ?", [row["thread_id"]]):
                known[0] += 1  # a new episode of a counted user
            self.db["retrievals"].delete_where("thread_id = ?", [row["thread_id"]])
            if retrievals:
                self.db["retrievals"].insert_all(
                    [{**r, **shown} for r in retrievals], pk=("thread_id", "case_id"), replace=True
                )
            self.db["episodes"].upsert(row, pk="thread_id")

    def update_episode(self, thread_id: str, **fields: Any) -> None:
        """Change fields of one episode (a new reward reaches its retrievals' copies too)."""
        with self.lock, self.db.conn:
            self.db["episodes"].update(thread_id, {**fields, "updated_at": now_iso()})
            if "reward" in fields:
                self.db.execute(
                    "update retrievals set reward = ? where thread_id = ?",
                    [fields["reward"], thread_id],
                )

    def set_credits(self, thread_id: str, credits: dict[str, float]) -> None:
        """Replace the per-case credit of an episode's retrievals."""
        with self.lock:
            for case_id, credit in credits.items():
                self.db["retrievals"].update((thread_id, case_id), {"credit": float(credit)})

    def usage(self, case_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Return usage per case: times retrieved, rewards of those episodes, credited successes and uses."""
        out = {c: {"times_retrieved": 0, "rewards": [], "credit_uses": 0.0, "credit_successes": 0.0}
               for c in case_ids}  # fmt: skip
        if not case_ids:
            return out
        with self.lock:
            for start in range(0, len(case_ids), 900):
                part = case_ids[start : start + 900]
                marks = ",".join("?" * len(part))
                sql = (
                    "select r.case_id, e.reward, r.credit from retrievals r join episodes e "
                    f"on e.thread_id = r.thread_id where r.case_id in ({marks}) order by e.created_at"
                )
                for case_id, reward, credit in self.db.execute(sql, part).fetchall():
                    use = out[case_id]
                    use["times_retrieved"] += 1
                    use["rewards"].append(float(reward))
                    use["credit_uses"] += float(credit or 0.0)
                    use["credit_successes"] += float(credit or 0.0) * float(reward)
        for use in out.values():
            rewards = use["rewards"]
            use["mean_reward"] = sum(rewards) / len(rewards) if rewards else None
        return out

    def mean_reward(self, user: str, recent: int = 500) -> float | None:
        """Return the mean reward of a user's most recent episodes (None without episodes)."""
        sql = (
            "select avg(reward) from (select reward from episodes where user = ? "
            "order by created_at desc limit ?)"
        )
        with self.lock:
            row = self.db.execute(sql, [user, recent]).fetchone()
        return None if row[0] is None else float(row[0])

    def episode_count(self, user: str) -> int:
        """Return how many episodes a user has: counted once (O(episodes)), then kept by `record`.

        Episodes recorded by other processes are seen at the next count, every RECOUNT calls.
        """
        with self.lock:
            known = self._counts.get(user)
            if known is None or known[1] >= RECOUNT:
                sql = "select count(*) from episodes where user = ?"
                known = [self.db.execute(sql, [user]).fetchone()[0], 0]
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
            "select case_id from case_usage where user = ? and shown > 0 and credit >= ? "
            "and successes < ? * credit order by (successes + ?) / (credit + 1.0), case_id limit ?"
        )
        args = [user, min_credit, below, below, limit]
        with self.lock:
            return [row[0] for row in self.db.execute(sql, args).fetchall()]

    def totals(self, user: str) -> dict[str, dict[str, Any]]:
        """Return the usage of every case a user was shown, in one pass (as `usage`, without rewards)."""
        ids, table = self.totals_table(user)
        keys = ("times_retrieved", "mean_reward", "credit_uses", "credit_successes")
        out = {
            case_id: dict(zip(keys, map(float, row), strict=True))
            for case_id, row in zip(ids, table, strict=True)
        }
        for use in out.values():
            use["times_retrieved"] = int(use["times_retrieved"])
            use["mean_reward"] = None if np.isnan(use["mean_reward"]) else use["mean_reward"]
        return out

    def totals_table(self, user: str) -> tuple[list[str], np.ndarray]:
        """Return the ids of the cases a user was shown, and a table of their usage.

        Columns: times shown, mean reward of those episodes, credited uses, credited successes (from
        case_usage: one row per case).
        """
        sql = (
            "select case_id, shown, rewards / shown, credit, successes from case_usage "
            "where user = ? and shown > 0"
        )
        with self.lock:
            rows = self.db.execute(sql, [user]).fetchall()
        table = np.array([r[1:] for r in rows], dtype=float).reshape(len(rows), 4)
        return [r[0] for r in rows], table

    def save_state(self, key: str, arrays: dict[str, np.ndarray]) -> None:
        """Persist named numpy arrays (the learned policy) under a key."""
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        with self.lock:
            self.db["policy_state"].upsert(
                {"key": key, "state": buf.getvalue(), "updated_at": now_iso()}, pk="key"
            )

    def load_state(self, key: str) -> dict[str, np.ndarray] | None:
        """Return the arrays saved under a key, or None."""
        with self.lock:
            rows = list(self.db["policy_state"].rows_where("key = ?", [key]))
        if not rows:
            return None
        try:
            return read_state(rows[0]["state"])
        except ValueError as exc:
            from memento_graph.stores import StoreDamaged

            fix = "run `memento doctor --repair` (it resets the learned policy, episodes are kept)"
            raise StoreDamaged(f"{self.path} (policy state {key})", str(exc), fix) from None


def read_state(blob: Any) -> dict[str, np.ndarray]:
    """Return the arrays of a saved policy state; ValueError saying why when they do not load."""
    if not isinstance(blob, bytes) or not blob:
        raise ValueError("empty policy state")
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as exc:  # noqa: BLE001 - numpy and zipfile raise many types on garbage
        raise ValueError(" ".join(f"unreadable policy state: {exc}".split())[:160]) from None
    weights, updates = arrays.get("weights"), arrays.get("updates")
    if weights is None or updates is None or updates.shape != (1,):
        raise ValueError("policy state without weights and updates")
    if not np.all(np.isfinite(weights)):
        raise ValueError("policy state with non-finite weights")
    return arrays
