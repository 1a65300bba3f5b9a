"""`CaseStore`: what the memory needs of a store of one user's cases, in its own terms.

Filters are keyword arguments (`CaseFilter`); how a store expresses them (Chroma's `where`, SQL, a
loop) stays inside the store. The case bank in Chroma (case_bank.py) is the store in use.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, Unpack

if TYPE_CHECKING:
    import numpy as np

    from memento_graph.memory.schema import CaseRecord


class CaseFilter(TypedDict, total=False):
    """Which cases: every condition given holds (none given: every case)."""

    status: str  # active, quarantined or retired
    reward_below: float  # reward < this
    reward_above: float  # reward > this
    created_since: float  # created at or after this Unix time


class CaseStore(Protocol):
    """The cases of one user under one embedder, with their task embeddings.

    Calls are synchronous; several processes may share a store, so a section of several writes goes
    inside `exclusive()`.
    """

    user: str
    active: (
        int | None
    )  # capacity bookkeeping (lifecycle.enforce_capacity): active cases at the last count
    added: int  # cases written through this object since that count (an upper bound)
    checks: int  # capacity checks since that count

    def exclusive(self) -> AbstractContextManager[Any]:
        """Hold the store's write lock for a section of several calls (other processes wait)."""
        ...

    def count(self) -> int:
        """Return the number of stored cases (every status)."""
        ...

    def upsert(self, cases: Sequence[CaseRecord], vectors: np.ndarray, new: bool = False) -> None:
        """Insert or replace cases with their task embeddings (`new`: ids known to be fresh)."""
        ...

    def update(self, case_id: str, **fields: Any) -> None:
        """Change top-level fields of one case (status, reward, flat names like `judge_source`)."""
        ...

    def update_many(self, ids: Sequence[str], **fields: Any) -> None:
        """Set the same top-level fields on many cases (None values are left unchanged)."""
        ...

    def get(self, ids: Sequence[str], embeddings: bool = False) -> list[CaseRecord]:
        """Return the cases with these ids (unknown ids left out), optionally with `embedding`."""
        ...

    def existing(self, ids: Sequence[str]) -> set[str]:
        """Return which of these ids are stored."""
        ...

    def ids(self, **where: Unpack[CaseFilter]) -> list[str]:
        """Return the ids of the matching cases, in storage order (oldest stored first)."""
        ...

    def metadata(self, **where: Unpack[CaseFilter]) -> dict[str, dict[str, Any]]:
        """Return the flat fields (`schema.to_metadata`) of the matching cases by id, without tasks."""
        ...

    def all(self, embeddings: bool = False, **where: Unpack[CaseFilter]) -> list[CaseRecord]:
        """Return every matching case, in storage order."""
        ...

    def page(self, status: str | None = None, limit: int = 50, offset: int = 0) -> list[CaseRecord]:
        """Return one page of cases (of one status, if given), most recently stored first."""
        ...

    def query(
        self, vector: np.ndarray, n: int, status: str | None = None, embeddings: bool = False
    ) -> list[CaseRecord]:
        """Return up to n cases nearest `vector` (of one status, if given) with `similarity`, best first."""
        ...

    def delete(self, ids: Sequence[str]) -> None:
        """Remove cases for good."""
        ...

    def siblings(self) -> Sequence[CaseStore]:
        """Return this user's non-empty stores under other embedders, largest first (read only)."""
        ...
