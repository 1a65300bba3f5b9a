"""`IndexedCases`: a case store whose writes also keep the case index (case_index.py) up to date.

Memory wraps its case store in one, so every writer (write-back, lifecycle, import, eval's seeding)
keeps the index without knowing of it. Reads, the write lock and the capacity bookkeeping are the
wrapped store's own (the bookkeeping stays with the store, shared by every Memory of the process).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from memento_graph.memory.case_index import CaseIndex

if TYPE_CHECKING:
    import numpy as np
    from typing_extensions import Unpack

    from memento_graph.memory.case_store import CaseFilter, CaseStore
    from memento_graph.memory.schema import CaseRecord


def _delegated(name: str, doc: str) -> Any:
    """Return a property that reads and writes the wrapped store's attribute `name`."""
    return property(
        lambda self: getattr(self.cases, name),
        lambda self, value: setattr(self.cases, name, value),
        doc=doc,
    )


class IndexedCases:
    """A `CaseStore` that mirrors each case's status and reward into a `CaseIndex`."""

    def __init__(self, cases: CaseStore, index: CaseIndex) -> None:
        self.cases, self.index, self.user = cases, index, cases.user

    # capacity bookkeeping (lifecycle.enforce_capacity): the wrapped store's own
    active = _delegated("active", "Active cases at the wrapped store's last count.")
    added = _delegated("added", "Cases written through the wrapped store since that count.")
    checks = _delegated("checks", "Capacity checks since that count.")

    # -- writes: the store's, then the index's ---------------------------------------------------------
    def upsert(self, cases: Sequence[CaseRecord], vectors: np.ndarray, new: bool = False) -> None:
        """Insert or replace cases (see `CaseStore.upsert`), and index them."""
        self.cases.upsert(cases, vectors, new)
        self.index.put((c["id"], c.get("status") or "active", c.get("reward", 0.0)) for c in cases)

    def update(self, case_id: str, **fields: Any) -> None:
        """Change top-level fields of one case (see `CaseStore.update`)."""
        self.update_many([case_id], **fields)

    def update_many(self, ids: Sequence[str], **fields: Any) -> None:
        """Set the same top-level fields on many cases (see `CaseStore.update_many`)."""
        self.cases.update_many(ids, **fields)
        self.index.change(ids, fields.get("status"), fields.get("reward"))

    def delete(self, ids: Sequence[str]) -> None:
        """Remove cases for good, and from the index."""
        self.cases.delete(ids)
        self.index.drop(ids)

    # -- reads and the lock: the store's ---------------------------------------------------------------
    def exclusive(self) -> AbstractContextManager[Any]:
        """Hold the store's write lock for a section of several calls."""
        return self.cases.exclusive()

    def count(self) -> int:
        """Return the number of stored cases (every status)."""
        return self.cases.count()

    def get(self, ids: Sequence[str], embeddings: bool = False) -> list[CaseRecord]:
        """Return the cases with these ids (see `CaseStore.get`)."""
        return self.cases.get(ids, embeddings)

    def existing(self, ids: Sequence[str]) -> set[str]:
        """Return which of these ids are stored."""
        return self.cases.existing(ids)

    def ids(self, **where: Unpack[CaseFilter]) -> list[str]:
        """Return the ids of the matching cases, in storage order."""
        return self.cases.ids(**where)

    def metadata(self, **where: Unpack[CaseFilter]) -> dict[str, dict[str, Any]]:
        """Return the flat fields of the matching cases by id."""
        return self.cases.metadata(**where)

    def all(self, embeddings: bool = False, **where: Unpack[CaseFilter]) -> list[CaseRecord]:
        """Return every matching case, in storage order."""
        return self.cases.all(embeddings, **where)

    def page(self, status: str | None = None, limit: int = 50, offset: int = 0) -> list[CaseRecord]:
        """Return one page of cases, most recently stored first."""
        return self.cases.page(status, limit, offset)

    def query(
        self, vector: np.ndarray, n: int, status: str | None = None, embeddings: bool = False
    ) -> list[CaseRecord]:
        """Return up to n cases nearest `vector`, best first."""
        return self.cases.query(vector, n, status, embeddings)

    def siblings(self) -> Sequence[CaseStore]:
        """Return this user's stores under other embedders (read only: not indexed)."""
        return self.cases.siblings()
