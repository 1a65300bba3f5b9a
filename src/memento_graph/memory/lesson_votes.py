"""Votes on the lessons of cases (ExpeL style), kept in the experience store.

A case's lesson (what worked, or the pitfall to avoid) is shown to the planner with the case. Each
episode that was shown a lesson votes on it with its reward: `reward` up and `1 - reward` down, so a
success is an upvote, a failure a downvote and a user's feedback moves the vote. A lesson's
usefulness is the Laplace-smoothed share of upvotes, (up + 1) / (up + down + 2): 0.5 before any
vote; below the floor (FLOOR, the `lesson_floor` setting) the lesson is no longer shown, so a lesson
that keeps preceding failures fades while its case may still be shown. Votes count for the lesson
text that was shown (by its hash): a case rewritten with a new lesson starts again at 0.5.
"""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from memento_graph.memory.experience import ExperienceStore
from memento_graph.memory.schema import now_iso

FLOOR = 0.3  # two downvotes and no upvote (0.25) hide a lesson; one up and two down (0.4) do not
_TABLE = "lesson_votes"


def lesson_key(lesson: str) -> str:
    """Return the key votes are counted under: a hash of the lesson text."""
    return hashlib.sha1(lesson.strip().encode()).hexdigest()[:16]


_CREATE = (
    f'create table if not exists {_TABLE} (thread_id text, case_id text, "user" text, lesson text, '
    "reward real, created_at text, primary key (thread_id, case_id))",
    f"create index if not exists {_TABLE}_case on {_TABLE} (case_id, lesson)",
)
# The stores whose table exists (held weakly, not by id: a closed store's id is reused).
_MADE: weakref.WeakSet[ExperienceStore] = weakref.WeakSet()


def _ensure(store: ExperienceStore) -> None:
    """Create the votes table once per store (SQL shared by SQLite and PostgreSQL)."""
    if store in _MADE:
        return
    with store.lock, store.db.write() as conn:
        for sql in _CREATE:
            conn.execute(sql)
    _MADE.add(store)


def vote(
    store: ExperienceStore,
    user: str,
    thread_id: str,
    shown: Sequence[Mapping[str, Any]],
    reward: float,
) -> None:
    """Record an episode's votes on the lessons it was shown (replacing its earlier votes)."""
    rows = {
        c["id"]: [thread_id, c["id"], user, lesson_key(c["lesson"]), float(reward), now_iso()]
        for c in shown if c.get("lesson")
    }  # fmt: skip
    _ensure(store)
    insert = f'insert into {_TABLE} (thread_id, case_id, "user", lesson, reward, created_at) '
    with store.lock, store.db.write() as conn:
        conn.execute(f"delete from {_TABLE} where thread_id = ?", [thread_id])
        for case_id in sorted(rows):
            conn.execute(insert + "values (?, ?, ?, ?, ?, ?)", rows[case_id])


def revote(store: ExperienceStore, thread_id: str, reward: float) -> None:
    """Change an episode's votes to a new reward (user feedback)."""
    _ensure(store)
    with store.lock, store.db.write() as conn:
        conn.execute(
            f"update {_TABLE} set reward = ? where thread_id = ?", [float(reward), thread_id]
        )


def votes(
    store: ExperienceStore, cases: Sequence[Mapping[str, Any]]
) -> dict[str, dict[str, float]]:
    """Return {case id: {up, down, usefulness}} for the current lesson of each case that has one."""
    keyed = {c["id"]: lesson_key(c["lesson"]) for c in cases if c.get("lesson")}
    out = {i: {"up": 0.0, "down": 0.0} for i in keyed}
    if keyed:
        marks = ",".join("?" * len(keyed))
        sql = (
            f"select case_id, lesson, coalesce(sum(reward), 0), count(*) from {_TABLE} "
            f"where case_id in ({marks}) group by case_id, lesson"
        )
        _ensure(store)
        with store.db.read() as conn:
            rows = conn.execute(sql, list(keyed)).fetchall()
        for case_id, key, up, n in rows:
            if keyed.get(case_id) == key:
                out[case_id] = {"up": float(up), "down": float(n) - float(up)}
    for tally in out.values():
        tally["usefulness"] = round((tally["up"] + 1) / (tally["up"] + tally["down"] + 2), 4)
    return out


def keep_useful(store: ExperienceStore, cases: list[dict[str, Any]], floor: float) -> None:
    """Drop (in place) the lesson of each case whose usefulness is below `floor`."""
    for case_id, tally in votes(store, cases).items():
        if tally["usefulness"] < floor:
            for case in cases:
                if case["id"] == case_id:
                    case["lesson"] = None
