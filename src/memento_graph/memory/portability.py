"""Export and import of case banks: our JSONL (with a manifest) and the original Memento formats.

Formats read, one JSON object per line:
- memento-graph: a first line `{"manifest": {"schema_version", "embedder", ...}}`, then full cases (with
  their answer, judge rationale, lesson, and embedding, reused when the embedder matches, else the
  tasks are re-embedded; a file from before lessons simply has none);
- original Memento case bank: `{"case", "plan", "case_label": "positive"|"negative"}`;
- original Memento training data: `{"question", "plan", "reward"}`.
Imports check every line before storing any and never overwrite a stored case. Cases are stored in
batches: an import killed midway keeps the batches stored, and running it again adds the rest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from memento_graph.errors import MementoError
from memento_graph.jsonl import read_jsonl
from memento_graph.killpoints import reached
from memento_graph.memory.schema import (
    SCHEMA_VERSION,
    CaseRecord,
    JudgeRecord,
    Provenance,
    check_reward,
    now_iso,
    stable_case_id,
)

if TYPE_CHECKING:
    from memento_graph.memory.core import Memory

IMPORT_BATCH = 1000  # cases per write to the case bank

_CASE_KEYS = (
    "id",
    "task",
    "plan",
    "answer",
    "reward",
    "judge",
    "provenance",
    "status",
    "revisions",
    "lesson",
)


def export_cases(memory: Memory, path: Path, force: bool = False) -> int:
    """Write every case of the memory's user (any status) to a JSONL file; return the count."""
    if path.exists() and not force:
        raise MementoError(f"{path} exists: pass --force to overwrite it")
    cases = memory.bank.all(embeddings=True)
    manifest = {"schema_version": SCHEMA_VERSION, "embedder": memory.embedder.id,
                "user": memory.user, "count": len(cases), "exported_at": now_iso()}  # fmt: skip
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps({"manifest": manifest}) + "\n")
        for case in cases:
            row = {k: case.get(k) for k in _CASE_KEYS}
            row["embedding"] = [round(float(x), 7) for x in case["embedding"]]
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(cases)


def import_cases(memory: Memory, path: Path) -> dict[str, Any]:
    """Import a case file in any supported format; return counts (imported, skipped, re-embedded)."""
    if not path.is_file():
        raise MementoError(f"no such file: {path}")
    rows = read_jsonl(path)
    if not rows:
        raise MementoError(f"{path} holds no cases")
    first = rows[0][1]
    manifest = first.get("manifest") if isinstance(first.get("manifest"), dict) else None
    if manifest is not None:
        if int(manifest.get("schema_version", 0)) > SCHEMA_VERSION:
            raise MementoError(
                f"{path} has schema version {manifest['schema_version']}: upgrade first"
            )
        cases = [_from_ours(row, n) for n, row in rows[1:]]
        reuse = manifest.get("embedder") == memory.embedder.id
        stored = {row["id"]: row.get("embedding") for _, row in rows[1:]}  # the last line wins
    else:
        cases = [_from_original(row, n, memory.user, path.name) for n, row in rows]
        reuse, stored = False, {}
    with memory.lock:
        known = memory.bank.existing([c["id"] for c in cases])
        fresh = list({c["id"]: c for c in cases if c["id"] not in known}.values())
        vectors = _vectors(memory, fresh, [stored.get(c["id"]) for c in fresh] if reuse else None)
        for case in fresh:
            case["provenance"]["embedder"] = memory.embedder.id
        for start in range(0, len(fresh), IMPORT_BATCH):  # a killed import keeps whole batches
            part = slice(start, start + IMPORT_BATCH)
            memory.bank.upsert(fresh[part], vectors[part], new=True)
            reached("import_batch")  # a test hook (killpoints.py)
    return {"imported": len(fresh), "skipped": len(cases) - len(fresh),
            "re_embedded": 0 if reuse else len(fresh), "format": "memento-graph" if manifest else "original"}  # fmt: skip


def _vectors(memory: Memory, cases: list[CaseRecord], stored: list[Any] | None) -> np.ndarray:
    """Return the cases' task embeddings: `stored` (the file's) when every case has one, else embed."""
    if stored and all(stored):
        return np.asarray(stored, dtype=np.float32)
    return memory.embedder.embed([c["task"] for c in cases]) if cases else np.zeros((0, 1))


def _from_ours(row: dict[str, Any], n: int) -> CaseRecord:
    if not str(row.get("task") or "").strip() or not row.get("id"):
        raise MementoError(f"line {n}: a case needs an id and a task")
    reward = check_reward(row.get("reward"), f"line {n}: ")
    lesson = row.get("lesson")
    if not isinstance(lesson, str | None):
        raise MementoError(f"line {n}: a case's lesson must be text, got {lesson!r}")
    provenance: Provenance = {**(row.get("provenance") or {"created_at": now_iso()})}
    judge: JudgeRecord = row["judge"] if row.get("judge") else {"source": "import"}
    return {
        "id": row["id"], "task": row["task"], "plan": row.get("plan") or "",
        "answer": row.get("answer"), "reward": reward, "judge": judge, "provenance": provenance,
        "status": row.get("status") or "active", "revisions": row.get("revisions") or 0,
        "lesson": lesson,
    }  # fmt: skip


def _from_original(row: dict[str, Any], n: int, user: str, source: str) -> CaseRecord:
    task = row.get("case", row.get("question"))
    if not isinstance(task, str) or not task.strip() or "plan" not in row:
        raise MementoError(
            f"line {n}: not a case: expected {{case, plan, case_label}} or {{question, plan, reward}}"
        )
    plan = row["plan"] if isinstance(row["plan"], str) else json.dumps(row["plan"])
    if "case_label" in row:
        label = str(row["case_label"]).strip().lower()
        if label not in ("positive", "negative"):
            raise MementoError(f"line {n}: case_label must be positive or negative, got {label!r}")
        reward, why = (1.0 if label == "positive" else 0.0), f"case_label={label}"
    else:
        reward = check_reward(row.get("reward"), f"line {n}: ")
        why = f"reward={reward:g}"
    now = now_iso()
    return {
        "id": stable_case_id(user, task, plan), "task": task.strip(), "plan": plan,
        "answer": row.get("answer"), "reward": reward, "status": "active", "revisions": 0,
        "judge": {"source": "import", "model": None, "rationale": f"imported from {source} ({why})"},
        "provenance": {"created_at": now, "updated_at": now, "source": f"import:{source}", "models": {}},
    }  # fmt: skip


def adopt_cases_of_other_embedder(memory: Memory) -> int:
    """Fill an empty bank from the user's bank under another embedder, re-embedding tasks; return count."""
    if memory.bank.count():
        return 0
    siblings = memory.bank.siblings()
    if not siblings:
        return 0
    cases = siblings[0].all()
    for case in cases:
        case["provenance"]["embedder"] = memory.embedder.id
    memory.bank.upsert(cases, memory.embedder.embed([c["task"] for c in cases]), new=True)
    return len(cases)
