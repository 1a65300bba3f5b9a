"""The case schema: a case as a typed dict (`CaseRecord`), and its flat form (scalars) for a store.

A case is (task = state, plan = action, reward) plus the answer, the judge's verdict, a lesson, provenance,
status, usage and the user namespace. Chroma stores the task as the document and every other scalar as metadata.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

from memento_graph.errors import MementoError

if TYPE_CHECKING:
    import numpy as np

SCHEMA_VERSION = 1
_FLAT = {
    ("judge", "source"): "judge_source",
    ("judge", "model"): "judge_model",
    ("judge", "rationale"): "judge_rationale",
    ("provenance", "thread_id"): "thread_id",
    ("provenance", "created_at"): "created_at",
    ("provenance", "updated_at"): "updated_at",
    ("provenance", "embedder"): "embedder",
    ("provenance", "source"): "source",
    ("models", "planner"): "planner_model",
    ("models", "executor"): "executor_model",
    ("models", "judge"): "judge_llm",
}
_TOP = (
    "plan",
    "answer",
    "reward",
    "status",
    "user",
    "revisions",
    "status_reason",
    "merged_into",
    "lesson",
    "derived_from",
    "derived_similarity",
    "descendants",
)  # fmt: skip  (lesson: distilled at write time; lineage (lineage.py): absent from older cases)


class JudgeRecord(TypedDict, total=False):
    """Who judged a case's plan: `source` (judge, user, import, ...), `model`, `rationale`."""

    source: str | None
    model: str | None
    rationale: str | None


class Provenance(TypedDict, total=False):
    """Where a case comes from: its thread, times (ISO), embedder, import source, models."""

    thread_id: str | None
    created_at: str | None
    updated_at: str | None
    embedder: str | None
    source: str | None
    models: dict[str, str | None]


class CaseUsage(TypedDict):
    """How a case was used (experience store): times shown, those episodes' rewards, credited record."""

    times_retrieved: int
    rewards: NotRequired[list[float]]  # oldest first (`ExperienceStore.usage` only)
    credit_uses: float
    credit_successes: float
    mean_reward: float | None


class CaseRecord(TypedDict):
    """One case: task (state), plan (action), reward, and what a store adds when it is read.

    Written cases carry the required keys (and those of the first group they know); a store returns
    every stored key (`from_metadata`), plus `embedding` or `similarity` when asked.
    """

    id: str
    task: str
    plan: str
    reward: float
    status: str
    judge: JudgeRecord
    provenance: Provenance
    answer: NotRequired[str | None]
    revisions: NotRequired[int]
    lesson: NotRequired[str | None]
    user: NotRequired[str | None]
    status_reason: NotRequired[str | None]
    merged_into: NotRequired[str | None]
    derived_from: NotRequired[str | None]  # the case this one's plan was written from (lineage.py)
    derived_similarity: NotRequired[float | None]  # its plan's step similarity to that case's
    descendants: NotRequired[str | None]  # ids of cases derived from this one, space-separated
    label: NotRequired[str]  # positive or negative: from the reward, on every case read
    embedding: NotRequired[np.ndarray]  # the task's embedding, when asked for
    similarity: NotRequired[float]  # cosine to the query, in a query's results
    usage: NotRequired[CaseUsage]  # from the experience store (Memory's inspection)
    lesson_votes: NotRequired[dict[str, float] | None]


def now_iso() -> str:
    """Return the current UTC time as ISO 8601 text."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def to_timestamp(text: str) -> float:
    """Parse an ISO time (naive means UTC) or a Unix timestamp into seconds since the epoch."""
    try:
        return float(text)
    except ValueError:
        stamp = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()


def label_of(reward: float) -> str:
    """Return the paper's label of a reward: positive when reward >= 0.5, else negative."""
    return "positive" if float(reward) >= 0.5 else "negative"


def new_case_id() -> str:
    """Return a fresh case id."""
    return uuid.uuid4().hex[:16]


def stable_case_id(user: str, task: str, plan: str) -> str:
    """Return a deterministic id for an imported (task, plan), so importing twice is idempotent."""
    return hashlib.sha256(f"{user}\x00{task.strip()}\x00{plan}".encode()).hexdigest()[:16]


def to_metadata(case: Mapping[str, Any]) -> dict[str, Any]:
    """Flatten a case (minus id, task, usage) into flat metadata: scalars only, no None values."""
    meta: dict[str, Any] = {k: case[k] for k in _TOP if case.get(k) is not None}
    provenance = case.get("provenance") or {}
    nested = {"judge": case.get("judge") or {}, "provenance": provenance}
    nested["models"] = provenance.get("models") or {}
    for (group, key), flat in _FLAT.items():
        value = nested[group].get(key)
        if value is not None:
            meta[flat] = value
    meta["reward"] = float(meta.get("reward", 0.0))
    if "created_at" in meta:
        meta["created_ts"] = to_timestamp(meta["created_at"])
    return meta


def from_metadata(case_id: str, task: str, meta: Mapping[str, Any]) -> CaseRecord:
    """Rebuild a case from its task and flat metadata (every stored key; "" reads as None)."""

    def flat(key: str) -> Any:
        value = meta.get(key)
        return None if value == "" else value

    reward = float(meta.get("reward") or 0.0)
    case: CaseRecord = {
        "id": case_id, "task": task, "plan": meta.get("plan") or "", "answer": meta.get("answer"),
        "reward": reward, "status": meta.get("status") or "active", "user": meta.get("user"),
        "revisions": int(meta.get("revisions") or 0), "status_reason": meta.get("status_reason"),
        "merged_into": meta.get("merged_into"), "lesson": meta.get("lesson") or None,
        "judge": {"source": flat("judge_source"), "model": flat("judge_model"),
                  "rationale": flat("judge_rationale")},
        "provenance": {"thread_id": flat("thread_id"), "created_at": flat("created_at"),
                       "updated_at": flat("updated_at"), "embedder": flat("embedder"),
                       "source": flat("source"),
                       "models": {"planner": flat("planner_model"), "executor": flat("executor_model"),
                                  "judge": flat("judge_llm")}},
        "label": label_of(reward),
    }  # fmt: skip
    if flat("derived_from"):  # lineage (lineage.py), only on cases that have one
        case["derived_from"] = str(meta["derived_from"])
        case["derived_similarity"] = float(meta.get("derived_similarity") or 0.0)
    if flat("descendants"):
        case["descendants"] = str(meta["descendants"])
    return case


def check_reward(value: Any, where: str = "") -> float:
    """Return `value` as a reward in [0, 1], or raise a MementoError prefixed with `where`."""
    try:
        reward = float(value)
    except (TypeError, ValueError):
        raise MementoError(f"{where}reward must be a number in [0, 1], got {value!r}") from None
    if not 0.0 <= reward <= 1.0:
        raise MementoError(f"{where}reward must be in [0, 1], got {reward:g}")
    return reward
