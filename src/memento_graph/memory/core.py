"""`Memory`: one user's case store, experience store and policy behind one thread-safe, synchronous API.

Memory's write side (episodes, cases, credit, learning, feedback) is in write_back.py, what its parts
share in base.py; the cases are behind the `CaseStore` protocol (case_store.py).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from memento_graph.errors import MementoError
from memento_graph.killpoints import reached
from memento_graph.memory import lesson_votes, lifecycle
from memento_graph.memory.case_index import CaseIndex, bank_key
from memento_graph.memory.case_store import CaseStore
from memento_graph.memory.credit import kinship, plan_similarity
from memento_graph.memory.embeddings import Embedder
from memento_graph.memory.experience import ExperienceStore
from memento_graph.memory.indexed_cases import IndexedCases
from memento_graph.memory.policy import similarity_select
from memento_graph.memory.schema import CaseRecord, label_of
from memento_graph.memory.write_back import WriteBack
from memento_graph.settings import SETTINGS

POLICIES = ("similarity", "learned", "none")
_STORES: dict[str, ExperienceStore] = {}
_STORES_LOCK = threading.Lock()


def experience_store(home: Path, url: str = "") -> ExperienceStore:
    """Return the (process-wide) experience store: in PostgreSQL at `url`, else the data directory's."""
    key = url or str((home / "experience.sqlite").resolve())
    with _STORES_LOCK:
        if key not in _STORES:
            _STORES[key] = ExperienceStore(url=url) if url else ExperienceStore(Path(key))
        return _STORES[key]


def release_stores() -> None:
    """Close and forget the process-wide experience stores and case banks (tests; a long-lived host)."""
    from memento_graph.memory.chroma_client import release_banks

    with _STORES_LOCK:
        for store in _STORES.values():
            store.db.close()
        _STORES.clear()
    release_banks()


def _above(case: CaseRecord, floor: float | None) -> bool:
    return floor is None or case["similarity"] >= floor


class Memory(WriteBack):
    """The learning memory of one user: retrieve cases, write back episodes, learn from rewards."""

    def __init__(
        self, home: Path, user: str, embedder: Embedder, *, near_duplicate: float | None = None,
        max_cases: int | None = None, exploration: str | None = None, candidates: int = 16,
        experience_url: str = "", cases: CaseStore | None = None,
    ) -> None:  # fmt: skip
        """Open the memory of `user` under `home`; `cases`: its case store (default: Chroma's case bank)."""
        self.home, self.user, self.embedder = Path(home), user, embedder
        if cases is None:
            from memento_graph.memory.case_bank import open_case_bank

            cases = open_case_bank(self.home / "casebank", user, embedder)
        self.store = experience_store(self.home, experience_url)
        self.index = CaseIndex(self.store, bank_key(user, embedder.id), user)
        self.bank: CaseStore = IndexedCases(cases, self.index)  # every write keeps the index
        self.near_duplicate = (
            near_duplicate if near_duplicate is not None else SETTINGS.near_duplicate
        )
        self.max_cases = max_cases if max_cases is not None else SETTINGS.max_cases
        self.candidates = candidates
        self._exploration = exploration
        self._policy = None
        self.lock = threading.RLock()

    # -- retrieval -------------------------------------------------------------------------------------
    def retrieve(
        self, task: str, k: int, policy: str, *, floor: float | None = None,
        lesson_floor: float = lesson_votes.FLOOR,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """Return up to k active cases for a task, best first, each with score, rank and label.

        Cases less similar than `floor` are never shown; a lesson less useful than `lesson_floor`
        is left out (its case is not). `rationale` is the judge's reason (None for imported cases).
        """
        if policy not in POLICIES:
            raise MementoError(f"unknown policy {policy!r}: use one of {', '.join(POLICIES)}")
        if policy == "none" or k <= 0 or not task.strip():
            return []
        vec = self.embed([task])[0]
        if policy == "similarity":
            found = self.bank.query(vec, k, status="active")
            chosen = similarity_select([c for c in found if _above(c, floor)], k)
        else:
            pool = self.bank.query(
                vec, max(self.candidates, 3 * k), status="active", embeddings=True
            )
            pool = [c for c in pool if _above(c, floor)]
            by_id = self.store.usage([c["id"] for c in pool])
            usage = [by_id[c["id"]] for c in pool]
            baseline = self.store.mean_reward(self.user, recent=lifecycle.RECENT)
            trial = [lifecycle.on_trial(c, u, baseline) for c, u in zip(pool, usage, strict=True)]
            kin = kinship(plan_similarity(self.embed, [c["plan"] for c in pool])) if pool else None
            chosen = self.learned_policy(len(vec)).select(vec, pool, usage, k, trial, kin, baseline)
        reached("retrieved")
        keys = ("id", "task", "plan", "answer", "reward", "score", "similarity", "status", "lesson")
        shown = [
            {**{key: c.get(key) for key in keys}, "rank": rank, "label": label_of(c["reward"]),
             "rationale": None if c["judge"].get("source") == "import" else c["judge"].get("rationale")}
            for rank, c in enumerate(chosen, start=1)
        ]  # fmt: skip
        lesson_votes.keep_useful(self.store, shown, lesson_floor)
        return shown

    # -- inspection ------------------------------------------------------------------------------------
    def list_cases(self, status: str | None = None, limit: int = 50) -> list[CaseRecord]:
        """Return up to `limit` cases, newest first, optionally of one status."""
        cases = self.bank.all(status=status) if status else self.bank.all()
        cases.sort(key=lambda c: c["provenance"].get("created_at") or "", reverse=True)
        return self._with_usage(cases[:limit])

    def search(self, query: str, k: int = 5) -> list[dict[str, Any]]:
        """Return the k cases (any status) whose tasks are most similar to `query`, with `score`."""
        if not query.strip():
            raise MementoError("empty search query")
        hits = self.bank.query(self.embed([query])[0], k)
        return [{**c, "score": round(c["similarity"], 6)} for c in self._with_usage(hits)]

    def delete_case(self, case_id: str) -> bool:
        """Delete a case for good (its episodes stay in the experience store); False if unknown."""
        with self.lock, self.bank.exclusive():
            if not self.bank.get([case_id]):
                return False
            self.bank.delete([case_id])
            return True

    def episode(self, thread_id: str) -> dict[str, Any] | None:
        """Return a recorded episode with its retrievals (without the task embedding), or None."""
        found = self.store.episode(thread_id)
        if found is None or found["user"] != self.user:
            return None
        found.pop("task_embedding", None)
        return found
