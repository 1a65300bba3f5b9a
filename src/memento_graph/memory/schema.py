"""The case schema: a case as a dict, and its flat form in Chroma metadata.

A case is (task = state, plan = action, reward) plus the answer, the judge's verdict, a lesson, provenance,
status, usage and the user namespace. Chroma stores the task as the document and every other scalar as metadata.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from memento_graph.errors import MementoError

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
_TOP = ("plan", "answer", "reward", "status", "user", "revisions", "status_reason", "merged_into")
_TOP += ("lesson",)  # distilled at write time (absent from older cases)


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


def to_metadata(case: dict[str, Any]) -> dict[str, Any]:
    """Flatten a case dict (minus id, task, usage) into Chroma metadata (no None values)."""
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


def from_metadata(case_id: str, task: str, meta: dict[str, Any]) -> dict[str, Any]:
    """Rebuild a case dict from its Chroma document and metadata."""
    case: dict[str, Any] = {"id": case_id, "task": task}
    case.update({k: meta.get(k) for k in _TOP})
    case["plan"] = case["plan"] or ""
    case["reward"] = float(case["reward"] or 0.0)
    case["status"] = case["status"] or "active"
    case["revisions"] = int(case["revisions"] or 0)
    case["lesson"] = case["lesson"] or None
    nested: dict[str, dict[str, Any]] = {"judge": {}, "provenance": {}, "models": {}}
    for (group, key), flat in _FLAT.items():
        nested[group][key] = meta.get(flat) if meta.get(flat) != "" else None
    case["judge"] = nested["judge"]
    case["provenance"] = {**nested["provenance"], "models": nested["models"]}
    case["label"] = label_of(case["reward"])
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
