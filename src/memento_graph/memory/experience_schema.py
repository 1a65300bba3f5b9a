"""The experience store's tables, one definition for SQLite and PostgreSQL (column: Python type), and its upsert."""

from __future__ import annotations

from typing import Any

EPISODES: dict[str, type] = {
    "thread_id": str, "user": str, "task": str, "plan": str, "answer": str,
    "reward": float, "judge_source": str, "judge_model": str, "judge_rationale": str,
    "policy": str, "models": str, "status": str, "case_id": str, "tokens": str,
    "note": str, "task_embedding": bytes, "created_at": str,
    "updated_at": str, "reward_confidence": float, "attribution": str,
}  # fmt: skip
JSON_FIELDS = ("models", "tokens")  # episode fields stored as JSON text
RETRIEVALS: dict[str, type] = {
    "thread_id": str, "case_id": str, "user": str, "rank": int, "score": float,
    "similarity": float, "policy": str, "credit": float, "reward": float, "created_at": str,
}  # fmt: skip
POLICY_STATE: dict[str, type] = {"key": str, "state": bytes, "updated_at": str, "version": int}
"""A learned policy's arrays (npz) under a key; `version` counts its saves (see `ExperienceStore`)."""
CASE_INDEX: dict[str, type] = {"bank": str, "case_id": str, "status": str, "reward": float}
"""Each case's status and reward by bank (`case_index.py`), kept with the case bank's writes."""


def upsert(table: str, row: dict[str, Any], key: str) -> tuple[str, list[Any]]:
    """Return SQL inserting `row`, or on a key clash updating the columns it names."""
    names = [f'"{c}"' for c in row]
    change = ", ".join(f"{n} = excluded.{n}" for n in names if n != f'"{key}"')
    sql = (
        f"insert into {table} ({', '.join(names)}) values ({', '.join('?' * len(row))}) "
        f'on conflict ("{key}") do update set {change}'
    )
    return sql, list(row.values())
