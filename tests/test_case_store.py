"""The `CaseStore` protocol is the seam between the memory and Chroma: a second store backs `Memory`.

`ListCaseStore` keeps the cases in a dict and filters them in Python; `Memory` retrieves, writes back,
learns, inspects and runs its lifecycle on it exactly as on Chroma's case bank, and no Chroma folder is
made. The last test checks the Chroma store's translation of filters it never received before (two
conditions at once) against a real Chroma.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from fixtures.episodes import finish
from hashed_embedder import HashedEmbedder
from memento_graph.memory import lifecycle
from memento_graph.memory.core import Memory
from memento_graph.memory.schema import from_metadata, now_iso, to_metadata
from memento_graph.memory.stats import case_stats


class ListCaseStore:
    """A `CaseStore` in a dict: id -> (task, flat metadata, vector), in the order first stored."""

    active: int | None = None
    added = 0
    checks = 0

    def __init__(self, user: str) -> None:
        self.user = user
        self.rows: dict[str, tuple[str, dict[str, Any], np.ndarray]] = {}
        self.exclusive_sections = 0

    @contextlib.contextmanager
    def exclusive(self):
        self.exclusive_sections += 1
        yield

    def count(self) -> int:
        return len(self.rows)

    def upsert(self, cases: Sequence[dict], vectors: np.ndarray, new: bool = False) -> None:
        self.added += len(cases)
        for case, vector in zip(cases, vectors, strict=True):
            assert not new or case["id"] not in self.rows, "an id said to be new is stored"
            meta = to_metadata({**case, "user": self.user})
            self.rows[case["id"]] = (case["task"], meta, np.asarray(vector, dtype=np.float32))

    def update(self, case_id: str, **fields: Any) -> None:
        self.update_many([case_id], **fields)

    def update_many(self, ids: Sequence[str], **fields: Any) -> None:
        for case_id in ids:
            self.rows[case_id][1].update({k: v for k, v in fields.items() if v is not None})

    def _case(self, case_id: str, embeddings: bool) -> dict:
        task, meta, vector = self.rows[case_id]
        case = from_metadata(case_id, task, meta)
        if embeddings:
            case["embedding"] = vector.copy()
        return case

    def get(self, ids: Sequence[str], embeddings: bool = False) -> list[dict]:
        return [self._case(i, embeddings) for i in ids if i in self.rows]

    def existing(self, ids: Sequence[str]) -> set[str]:
        return {i for i in ids if i in self.rows}

    def ids(self, **where: Any) -> list[str]:
        def keep(meta: dict[str, Any]) -> bool:
            return all(
                (
                    where.get("status", meta["status"]) == meta["status"],
                    meta["reward"] < where.get("reward_below", np.inf),
                    meta["reward"] > where.get("reward_above", -np.inf),
                    meta.get("created_ts", -np.inf) >= where.get("created_since", -np.inf),
                )
            )

        return [case_id for case_id, (_, meta, _) in self.rows.items() if keep(meta)]

    def metadata(self, **where: Any) -> dict[str, dict[str, Any]]:
        return {i: dict(self.rows[i][1]) for i in self.ids(**where)}

    def all(self, embeddings: bool = False, **where: Any) -> list[dict]:
        return self.get(self.ids(**where), embeddings)

    def page(self, status: str | None = None, limit: int = 50, offset: int = 0) -> list[dict]:
        ids = self.ids(**({"status": status} if status else {}))
        if limit <= 0 or offset < 0:
            return []
        return self.get(ids[max(len(ids) - offset - limit, 0) : max(len(ids) - offset, 0)])[::-1]

    def query(
        self, vector: np.ndarray, n: int, status: str | None = None, embeddings: bool = False
    ) -> list[dict]:
        found = []
        for case_id in self.ids(**({"status": status} if status else {})):
            case = self._case(case_id, embeddings)
            case["similarity"] = float(np.dot(self.rows[case_id][2], vector))
            found.append(case)
        return sorted(found, key=lambda c: -c["similarity"])[: max(n, 0)]

    def delete(self, ids: Sequence[str]) -> None:
        for case_id in ids:
            self.rows.pop(case_id, None)

    def siblings(self) -> list[ListCaseStore]:
        return []


def test_a_second_case_store_backs_memory_for_retrieve_and_write(home):
    home.mkdir()  # (Context.home_path makes it; Chroma's case bank would too)
    cases = ListCaseStore("someone")
    memory = Memory(home, "someone", HashedEmbedder(64), cases=cases)
    assert (
        memory.bank.cases is cases
        and memory.retrieve("Who painted the Mona Lisa?", 4, "similarity") == []
    )

    first = finish(memory, "t1", "Who painted the Mona Lisa?", plan="look it up")
    assert cases.count() == 1 and cases.exclusive_sections == 1
    assert first["provenance"]["thread_id"] == "t1" and first["user"] == "someone"
    shown = memory.retrieve("Who painted the Mona Lisa?", 4, "similarity")
    assert [(h["id"], h["plan"], h["rank"]) for h in shown] == [(first["id"], "look it up", 1)]

    # the same task again, worse: its case is kept (the better plan) with one more revision
    again = finish(
        memory, "t2", "Who painted the Mona Lisa?", reward=0.0, retrieved=shown, plan="x"
    )
    assert (again["id"], again["plan"], again["revisions"], cases.count()) == (
        first["id"],
        "look it up",
        1,
        1,
    )
    usage = memory.get_case(first["id"])["usage"]
    assert usage["times_retrieved"] == 1 and usage["rewards"] == [0.0]
    assert memory.episode("t2")["retrieved"][0]["case_id"] == first["id"]

    other = finish(memory, "t3", "What is the boiling point of water in Kelvin?", reward=0.0)
    picked = memory.retrieve("What is the boiling point of water in Kelvin?", 2, "learned")
    assert {h["id"] for h in picked} == {first["id"], other["id"]}
    assert memory.learned_policy(64).version == 1  # learned from t2's shown case, stored

    assert [c["id"] for c in memory.list_cases()] == [other["id"], first["id"]]
    assert memory.search("Who painted the Mona Lisa?", 1)[0]["id"] == first["id"]
    stats = case_stats(memory)
    assert stats["by_label"] == {"positive": 1, "negative": 1} and stats["total"] == 2
    assert not (home / "casebank").exists()  # Chroma was never opened


def test_lifecycle_filters_reach_a_second_case_store(home):
    home.mkdir()
    cases = ListCaseStore("someone")
    memory = Memory(home, "someone", HashedEmbedder(64), cases=cases)
    old = finish(memory, "t1", "Who wrote Dune?")
    time.sleep(0.01)
    since = now_iso()
    new = finish(memory, "t2", "Who directed Alien?", reward=0.0)
    assert lifecycle.rollback(memory.bank, since) == [new["id"]]  # created_since
    assert [c["id"] for c in memory.list_cases(status="retired")] == [new["id"]]
    assert [c["id"] for c in cases.page(status="active")] == [old["id"]]
    assert case_stats(memory)["by_status"] == {"active": 1, "retired": 1}
    assert memory.delete_case(old["id"]) and cases.count() == 1


def test_chroma_store_applies_several_conditions_at_once(memory):
    cases = [
        {"id": f"c{i}", "task": f"task number {i}", "plan": "p", "reward": r, "status": s,
         "judge": {}, "provenance": {"created_at": now_iso()}}
        for i, (r, s) in enumerate([(1.0, "active"), (0.5, "active"), (0.0, "retired"), (0.0, "active")])
    ]  # fmt: skip
    memory.bank.upsert(cases, memory.embed([c["task"] for c in cases]))
    assert memory.bank.ids(status="active", reward_below=1.0) == ["c1", "c3"]
    assert memory.bank.ids(status="active", reward_above=0.0) == ["c0", "c1"]
    assert sorted(memory.bank.metadata(reward_below=1.0, reward_above=0.0)) == ["c1"]
    assert memory.bank.ids(created_since=time.time() + 60) == []
    assert [c["id"] for c in memory.bank.all(status="retired")] == ["c2"]
