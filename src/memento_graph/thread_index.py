"""The thread index: which threads exist, their task, status and times (for `memento threads`)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from memento_graph.context import Context
from memento_graph.sqlite import open_db, sqlite_utils  # (without pandas)
from memento_graph.state import ThreadStatus


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _create(db: sqlite_utils.Database) -> None:
    db.table("threads").create(
        {
            "thread_id": str,
            "task": str,
            "status": str,
            "started_at": str,
            "updated_at": str,
            "pid": int,
            "error": str,
            "answer": str,
            "context": str,
        },
        pk="thread_id",
        if_not_exists=True,
    )


def thread_status(snapshot: Any, failed: bool = False) -> ThreadStatus:
    """Return a thread's status from its state snapshot: done, paused, interrupted or rejected.

    paused: waiting for a plan approval; interrupted: a step is pending (cut short, resumable).
    """
    if failed:
        return "failed"
    if any(t.interrupts for t in snapshot.tasks):
        return "paused"
    if snapshot.next:
        return "interrupted"
    if (snapshot.values or {}).get("status") == "rejected":
        return "rejected"
    return "done"


class ThreadIndex:
    """One row per thread in `<home>/runs.sqlite`."""

    def __init__(self, home: Path) -> None:
        """Open (and create) the index."""
        self.db = open_db(home / "runs.sqlite", _create)
        self.table = self.db.table("threads", pk="thread_id")

    def start(self, thread_id: str, task: str, context: Context) -> None:
        """Record a thread as running in this process."""
        self.table.upsert(
            {
                "thread_id": thread_id,
                "task": task,
                "status": "running",
                "started_at": _now(),
                "updated_at": _now(),
                "pid": os.getpid(),
                "error": None,
                "answer": None,
                "context": json.dumps(asdict(context)),
            },
            pk="thread_id",
        )

    def update(self, thread_id: str, **fields: Any) -> None:
        """Update a thread's row (status, error, answer, pid, task, trace_run)."""
        self.table.update(thread_id, {**fields, "updated_at": _now()}, alter=True)

    def get(self, thread_id: str) -> dict[str, Any] | None:
        """Return a thread's row, with `running` shown as `interrupted` when its process is gone."""
        rows = list(self.table.rows_where("thread_id = ?", [thread_id]))
        return self._fix(rows[0]) if rows else None

    def list(self, limit: int = 50) -> list[dict[str, Any]]:
        """Return the newest threads first."""
        return [
            self._fix(r) for r in self.table.rows_where(order_by="started_at desc", limit=limit)
        ]

    @staticmethod
    def _fix(row: dict[str, Any]) -> dict[str, Any]:
        if row["status"] == "running" and not _alive(row.get("pid")):
            row["status"] = "interrupted"
        return row
