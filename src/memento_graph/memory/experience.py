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

# per-user scans read these instead of the rows (an episode row holds its task embedding)
_INDEXES = (
    ("retrievals", ["user", "case_id", "thread_id", "credit"]),  # credit totals, suspects
    ("episodes", ["thread_id", "reward"]),  # an episode's reward in those joins
    ("episodes", ["user", "created_at", "reward"]),  # recent mean reward, count
)
SUSPECTS = 1000  # most cases one quarantine sweep re-checks (the likeliest bad first)


class ExperienceStore:
    """Episodes and retrievals of every user, in `<home>/experience.sqlite`."""

    def __init__(self, path: Path) -> None:
        self.lock = threading.RLock()
        self.db = open_db(path, self._create)

    @staticmethod
    def _create(db: sqlite_utils.Database) -> None:
        db["episodes"].create(
            {
                "thread_id": str, "user": str, "task": str, "plan": str, "answer": str,
                "reward": float, "judge_source": str, "judge_model": str, "judge_rationale": str,
                "policy": str, "models": str, "status": str, "case_id": str, "timings": str,
                "tokens": str, "note": str, "task_embedding": bytes, "created_at": str,
                "updated_at": str,
            },
            pk="thread_id", if_not_exists=True,
        )  # fmt: skip
        db["retrievals"].create(
            {
                "thread_id": str, "case_id": str, "user": str, "rank": int, "score": float,
                "similarity": float, "policy": str, "credit": float, "created_at": str,
            },
            pk=("thread_id", "case_id"), if_not_exists=True,
        )  # fmt: skip
        db["policy_state"].create(
            {"key": str, "state": bytes, "updated_at": str}, pk="key", if_not_exists=True
        )
        db["retrievals"].create_index(["case_id"], if_not_exists=True)
        db["episodes"].create_index(["user", "created_at"], if_not_exists=True)
        for table, columns in _INDEXES:  # also added to stores made before them
            db[table].create_index(columns, if_not_exists=True)

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
        for key in ("models", "timings", "tokens"):
            episode[key] = json.loads(episode[key]) if episode.get(key) else {}
        vec = episode.pop("task_embedding", None)
        episode["task_embedding"] = np.frombuffer(vec, dtype=np.float32) if vec else None
        return episode

    def record(self, episode: dict[str, Any], retrievals: list[dict[str, Any]]) -> None:
        """Store an episode and its retrievals in one transaction (replacing any earlier record)."""
        row = dict(episode)
        for key in ("models", "timings", "tokens"):
            row[key] = json.dumps(row.get(key) or {})
        vec = row.pop("task_embedding", None)
        row["task_embedding"] = (
            np.asarray(vec, dtype=np.float32).tobytes() if vec is not None else None
        )
        row["created_at"] = row.get("created_at") or now_iso()
        row["updated_at"] = now_iso()
        # retrievals first: the episode row (with its case id) marks the record done
        with self.lock:
            self.db["retrievals"].delete_where("thread_id = ?", [row["thread_id"]])
            if retrievals:
                self.db["retrievals"].insert_all(
                    [{**r, "thread_id": row["thread_id"], "created_at": row["updated_at"]} for r in retrievals],
                    pk=("thread_id", "case_id"), replace=True,
                )  # fmt: skip
            self.db["episodes"].upsert(row, pk="thread_id")

    def update_episode(self, thread_id: str, **fields: Any) -> None:
        """Change fields of one episode."""
        with self.lock:
            self.db["episodes"].update(thread_id, {**fields, "updated_at": now_iso()})

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
        """Return how many episodes a user has."""
        with self.lock:
            return self.db.execute(
                "select count(*) from episodes where user = ?", [user]
            ).fetchone()[0]

    def suspects(
        self, user: str, min_credit: float, below: float, limit: int = SUSPECTS
    ) -> list[str]:
        """Return a user's cases with `min_credit`+ credited uses and a credited rate below `below`.

        At most `limit`, lowest rate first with the level `below` as a one-use prior (much evidence of a
        low rate comes before one failure), so one sweep's work is bounded.
        """
        sql = (
            "select r.case_id from retrievals r join episodes e on e.thread_id = r.thread_id "
            "where r.user = ? group by r.case_id having sum(r.credit) >= ? "
            "and sum(r.credit * e.reward) < ? * sum(r.credit) "
            "order by (sum(r.credit * e.reward) + ?) / (sum(r.credit) + 1.0), r.case_id limit ?"
        )
        args = [user, min_credit, below, below, limit]
        with self.lock:
            return [row[0] for row in self.db.execute(sql, args).fetchall()]

    def totals(self, user: str) -> dict[str, dict[str, Any]]:
        """Return the usage of every case a user was shown, in one pass (as `usage`, without rewards)."""
        sql = (
            "select r.case_id, count(*), avg(e.reward), sum(r.credit), sum(r.credit * e.reward) "
            "from retrievals r join episodes e on e.thread_id = r.thread_id "
            "where r.user = ? group by r.case_id"
        )
        with self.lock:
            rows = self.db.execute(sql, [user]).fetchall()
        keys = ("times_retrieved", "mean_reward", "credit_uses", "credit_successes")
        return {
            r[0]: dict(zip(keys, (r[1], r[2], float(r[3] or 0.0), float(r[4] or 0.0)), strict=True))
            for r in rows
        }

    def episodes(self, user: str, since: float | None = None) -> list[dict[str, Any]]:
        """Return a user's episodes (without embeddings), oldest first."""
        with self.lock:
            rows = self.db.execute(
                "select thread_id, task, reward, case_id, policy, created_at from episodes "
                "where user = ? order by created_at",
                [user],
            ).fetchall()
        keys = ("thread_id", "task", "reward", "case_id", "policy", "created_at")
        return [dict(zip(keys, r, strict=True)) for r in rows]

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
        with np.load(io.BytesIO(rows[0]["state"])) as data:
            return {k: data[k] for k in data.files}
