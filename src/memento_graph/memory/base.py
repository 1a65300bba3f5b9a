"""What `Memory`'s parts share: its stores, embedder and lock, the learned policy, reading a case back."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from memento_graph.memory import lesson_votes
from memento_graph.memory.case_store import CaseStore
from memento_graph.memory.embeddings import Embedder
from memento_graph.memory.experience import ExperienceStore
from memento_graph.memory.policy import LearnedPolicy
from memento_graph.memory.schema import CaseRecord


def public(case: CaseRecord) -> CaseRecord:
    """Return a case without its embedding (fit for JSON)."""
    out = case.copy()
    out.pop("embedding", None)
    return out


class MemoryBase:
    """The state of one user's memory (set by `Memory.__init__`) and the helpers every part uses."""

    home: Path
    user: str
    embedder: Embedder
    bank: CaseStore  # the cases (Chroma's case bank unless another store is given)
    store: ExperienceStore  # episodes, retrievals, policy states
    near_duplicate: float
    max_cases: int
    candidates: int
    lock: threading.RLock
    _exploration: str | None
    _policy: LearnedPolicy | None

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts with this memory's embedder."""
        return self.embedder.embed(texts)

    @property
    def policy_key(self) -> str:
        """Key of the learned policy's persisted state."""
        return f"learned|{self.user}|{self.embedder.id}"

    def learned_policy(self, dim: int) -> LearnedPolicy:
        """Return the learned policy, (re)loaded when the stored state's version is not its own.

        Another process (a second server, a CLI run) that learned from its episodes saved a newer
        version: this one acts on it from its next selection.
        """
        with self.lock:
            if self._policy is None or self._policy.dim != dim:
                self._policy = LearnedPolicy(dim, self._exploration)
            if self.store.state_version(self.policy_key) != self._policy.version:
                version, state = self.store.load_versioned(self.policy_key)
                self._policy.load(state, version)
            return self._policy

    def _with_usage(self, cases: list[CaseRecord]) -> list[CaseRecord]:
        usage = self.store.usage([c["id"] for c in cases])
        votes = lesson_votes.votes(self.store, cases)
        for case in cases:
            case["usage"] = usage[case["id"]]
            case["lesson_votes"] = votes.get(case["id"])
        return cases

    def get_case(self, case_id: str) -> CaseRecord | None:
        """Return one case (any status) with its usage, or None."""
        found = self.bank.get([case_id])
        return self._with_usage(found)[0] if found else None
