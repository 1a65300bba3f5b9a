"""Repair of a data directory's stores: what is safe only, and never a deletion.

A damaged store (stores.check) is moved aside to `<name>.damaged-<timestamp>` and made afresh on next
use; the thread index is rebuilt from the checkpoints; an unreadable policy state is saved and reset.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from memento_graph.stores import check, is_remote, policy_problems, sqlite_problem


def _aside(path: Path, stamp: str) -> Path:
    """Move a file (with its -wal and -shm) or folder to `<name>.damaged-<stamp>`; return the new path."""
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    path.rename(target)
    for suffix in ("-wal", "-shm", "-journal"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    return target


def repair(home: Path) -> list[str]:
    """Repair what is safe: move damaged stores aside, rebuild what can be derived; return what was done."""
    from memento_graph.memory.chroma_client import hold_casebank

    stamp = time.strftime("%Y%m%d-%H%M%S")
    if not is_remote("casebank") and (home / "casebank").exists():
        hold_casebank(home / "casebank")  # no run may use the stores meanwhile
    done: list[str] = []
    statuses = check(home)
    for st in statuses:
        if st.status != "damaged":
            continue
        if st.store == "policy":
            done += _reset_policy(st.path, stamp)
            continue
        moved = _aside(st.path, stamp)
        done.append(f"moved the damaged {st.store} store {st.path} aside to {moved}")
        if st.store == "runs":
            done.append(_rebuild_index(home))
        elif st.store == "threads":
            done.append("threads in runs.sqlite whose checkpoints were lost cannot be resumed")
        elif st.store == "experience":
            done.append("episodes and the learned policy start afresh; the case bank is kept")
        elif st.store == "casebank":
            done.append("the case bank starts empty; episodes in experience.sqlite are kept")
    return done


def _reset_policy(path: Path, stamp: str) -> list[str]:
    """Save each unreadable policy state to a file beside the store, then drop its row."""
    done = []
    conn = sqlite3.connect(str(path), timeout=30)
    try:
        for key, why in policy_problems(path):
            (blob,) = conn.execute("select state from policy_state where key = ?", [key]).fetchone()
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
            saved = path.with_name(f"policy-state.damaged-{stamp}.{safe}")
            saved.write_bytes(blob if isinstance(blob, bytes) else str(blob or "").encode())
            with conn:
                conn.execute("delete from policy_state where key = ?", [key])
            done.append(
                f"reset the learned policy state {key} ({why}), saved to {saved}: it re-learns from "
                "the next episodes (each case's credited record in experience.sqlite is kept)"
            )
    finally:
        conn.close()
    return done


def _rebuild_index(home: Path) -> str:
    """Rebuild the thread index (runs.sqlite) from the checkpoints in threads.sqlite."""
    from memento_graph.thread_index import ThreadIndex

    db = home / "threads.sqlite"
    if is_remote("threads") or not db.exists() or sqlite_problem(db):
        return "the thread index starts empty (no readable threads.sqlite to rebuild it from)"
    index = ThreadIndex(home)
    count = 0
    for thread_id, values, done, created in _threads(db):
        index.table.upsert(
            {
                "thread_id": thread_id,
                "task": values.get("task") or "",
                "status": "done" if done else "interrupted",
                "started_at": created,
                "updated_at": created,
                "pid": None,
                "error": None,
                "answer": values.get("answer"),
                "context": "{}",
            },
            pk="thread_id",
        )
        count += 1
    return f"rebuilt the thread index from threads.sqlite: {count} threads"


def _threads(db: Path) -> list[tuple[str, dict[str, Any], bool, str]]:
    """Return (thread id, state values, finished, time) of every thread checkpointed in `db`."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    from memento_graph.graph import graph_builder

    conn = sqlite3.connect(str(db), check_same_thread=False, timeout=30)
    try:
        ids = [r[0] for r in conn.execute("select distinct thread_id from checkpoints")]
        graph = graph_builder().compile(checkpointer=SqliteSaver(conn))
        found = []
        for thread_id in ids:
            snap = graph.get_state({"configurable": {"thread_id": thread_id}})
            if snap.values:
                found.append((thread_id, dict(snap.values), not snap.next, snap.created_at or ""))
        return found
    finally:
        conn.close()
