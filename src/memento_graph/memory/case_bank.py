"""The case bank: the `CaseStore` in Chroma, one collection per (user, embedder), embeddings passed in.

Chroma's local client is synchronous; callers in async code go through `asyncio.to_thread`. Every
call goes through the bank's lock (memory/chroma_client.py): several processes share one folder.
Chroma's query syntax (`where`, `$and`, `$lt`, ...) is used here only: callers pass a `CaseFilter`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Unpack

import numpy as np

from memento_graph.memory.case_store import CaseFilter, CaseStore
from memento_graph.memory.embeddings import Embedder
from memento_graph.memory.schema import CaseRecord, from_metadata, to_metadata

_BATCH = 4000  # ids or rows per Chroma call: below its max batch size and SQLite's 32,766 variables


def chunks(items: list[Any], size: int = _BATCH) -> list[list[Any]]:
    """Split a list into consecutive parts of at most `size` (every Chroma call by ids goes through this)."""
    return [items[start : start + size] for start in range(0, len(items), size)]


def chroma_client(path: Path) -> Any:
    """Return the process-wide case bank client: the server at MEMENTO_CHROMA_URL, or embedded.

    Either way a `Bank` (memory/chroma_client.py): its collections lock and refresh themselves.
    """
    from memento_graph.memory.chroma_client import chroma_url, folder_bank, http_client

    if chroma_url():  # MEMENTO_CHROMA_URL: a Chroma server, shared by many processes
        return http_client(chroma_url())
    return folder_bank(path)


def read_every_collection(folder: Path) -> list[int]:
    """Read each collection of the case bank in `folder` (count, one nearest-neighbour query); return the counts.

    A damaged bank raises whatever Chroma raises (stores.check reports it).
    """
    client = chroma_client(folder)
    counts = []
    for item in client.list_collections():
        collection = client.get_collection(getattr(item, "name", item))
        counts.append(collection.count())
        if counts[-1]:  # a nearest-neighbour query reads the vector index too
            (vec,) = collection.get(limit=1, include=["embeddings"])["embeddings"]
            collection.query(query_embeddings=[list(vec)], n_results=1, include=[])
    return counts


def open_case_bank(folder: Path, user: str, embedder: Embedder) -> CaseStore:
    """Return the case store of `user` under `embedder`: in the Chroma at MEMENTO_CHROMA_URL, or `folder`."""
    return CaseBank(chroma_client(folder), user, embedder)


def where_of(filters: CaseFilter) -> dict[str, Any] | None:
    """Return Chroma's `where` for a case filter (None: every case)."""
    parts: list[dict[str, Any]] = []
    if "status" in filters:
        parts.append({"status": filters["status"]})
    if "reward_above" in filters:
        parts.append({"reward": {"$gt": filters["reward_above"]}})
    if "reward_below" in filters:
        parts.append({"reward": {"$lt": filters["reward_below"]}})
    if "created_since" in filters:
        parts.append({"created_ts": {"$gte": filters["created_since"]}})
    return None if not parts else parts[0] if len(parts) == 1 else {"$and": parts}


def _slug(text: str) -> str:
    clean = re.sub(r"[^a-zA-Z0-9_-]+", "_", text)[:40].strip("_-") or "x"
    return f"{clean}-{hashlib.sha1(text.encode()).hexdigest()[:6]}"


def collection_prefix(user: str) -> str:
    """Return the prefix of every collection of one user."""
    return f"cases-{_slug(user)}-"


class CaseBank:
    """The cases of one user under one embedder, stored in Chroma (a `CaseStore`)."""

    active: int | None = None  # at most this many active cases at the last count (see lifecycle)
    added = 0  # cases written through this object since that count (an upper bound)
    checks = 0  # capacity checks since that count

    def __init__(self, client: Any, user: str, embedder: Embedder) -> None:
        self.user = user
        self.embedder: Embedder | None = embedder  # None: a sibling, read for its cases only
        self.name = collection_prefix(user) + _slug(embedder.id)
        self.client = client
        self.collection = client.get_or_create_collection(
            self.name,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine", "ef_search": 64}},
            metadata={"user": user, "embedder": embedder.id},
        )

    def siblings(self) -> list[CaseBank]:
        """Return this user's non-empty banks under other embedders (largest first)."""
        prefix = collection_prefix(self.user)
        found = []
        for col in self.client.list_collections():
            if col.name.startswith(prefix) and col.name != self.name and col.count() > 0:
                bank = CaseBank.__new__(CaseBank)
                bank.user, bank.embedder, bank.name, bank.client = (
                    self.user,
                    None,
                    col.name,
                    self.client,
                )
                bank.collection = col
                found.append(bank)
        return sorted(found, key=lambda b: -b.count())

    def exclusive(self) -> Any:
        """Hold the case bank's write lock for a section of several calls (other processes wait)."""
        return self.client.exclusive()

    def count(self) -> int:
        """Return the number of stored cases (every status)."""
        return self.collection.count()

    def upsert(self, cases: Sequence[CaseRecord], vectors: np.ndarray, new: bool = False) -> None:
        """Insert or replace cases with their task embeddings (`new`: ids known to be fresh, faster)."""
        write = self.collection.add if new else self.collection.upsert
        self.added += len(cases)
        for start in range(0, len(cases), _BATCH):
            part = cases[start : start + _BATCH]
            write(
                ids=[c["id"] for c in part],
                documents=[c["task"] for c in part],
                metadatas=[to_metadata({**c, "user": self.user}) for c in part],
                embeddings=np.asarray(vectors[start : start + _BATCH], dtype=np.float32),
            )

    def update(self, case_id: str, **fields: Any) -> None:
        """Change top-level metadata fields of one case (status, reward, ...)."""
        self.update_many([case_id], **fields)

    def update_many(self, ids: Sequence[str], **fields: Any) -> None:
        """Set the same top-level metadata fields on many cases, in batches."""
        meta = {k: v for k, v in fields.items() if v is not None}
        for part in chunks(list(ids)):
            self.collection.update(ids=part, metadatas=[meta] * len(part))

    def get(self, ids: Sequence[str], embeddings: bool = False) -> list[CaseRecord]:
        """Return the cases with these ids (unknown ids are left out), optionally with `embedding`."""
        include = ["documents", "metadatas"] + (["embeddings"] if embeddings else [])
        rows: list[CaseRecord] = []
        for part in chunks(list(ids)):
            rows.extend(self._rows(self.collection.get(ids=part, include=include), embeddings))
        return rows

    def existing(self, ids: Sequence[str]) -> set[str]:
        """Return which of these ids are stored, reading ids only."""
        return {
            i
            for part in chunks(list(ids))
            for i in self.collection.get(ids=part, include=[])["ids"]
        }

    def ids(self, **where: Unpack[CaseFilter]) -> list[str]:
        """Return the ids of the matching cases, in storage order, reading ids only.

        Costs a few us per case matched (plus a pass over the filtered key's values), ~0.15 s for
        30k matches in 100k. A `limit` or `ids` with a `where` makes Chroma scan: 0.4 s and minutes.
        """
        ids: list[str] = self.collection.get(where=where_of(where), include=[])["ids"]
        return ids

    def metadata(self, **where: Unpack[CaseFilter]) -> dict[str, dict[str, Any]]:
        """Return the flat metadata of every matching case by id, without tasks or vectors."""
        out: dict[str, dict[str, Any]] = {}
        for part in chunks(self.ids(**where)):  # one unbatched get fails past ~32k cases
            got = self.collection.get(ids=part, include=["metadatas"])
            out.update((i, m or {}) for i, m in zip(got["ids"], got["metadatas"], strict=True))
        return out

    def all(self, embeddings: bool = False, **where: Unpack[CaseFilter]) -> list[CaseRecord]:
        """Return every matching case, in storage order."""
        return self.get(self.ids(**where), embeddings)

    def page(self, status: str | None = None, limit: int = 50, offset: int = 0) -> list[CaseRecord]:
        """Return one page of cases, most recently stored first, skipping the `offset` newest.

        Without a status this reads only the page (Chroma's limit/offset); with one, the matching ids too.
        """
        if limit <= 0 or offset < 0:
            return []
        if status is None:
            total = self.count()
            start = max(total - offset - limit, 0)
            if total - offset <= 0:
                return []
            include = ["documents", "metadatas"]
            got = self.collection.get(include=include, limit=total - offset - start, offset=start)
            return self._rows(got, False)[::-1]
        ids = self.ids(status=status)
        wanted = ids[max(len(ids) - offset - limit, 0) : max(len(ids) - offset, 0)]
        return self.get(wanted)[::-1]

    def query(
        self, vector: np.ndarray, n: int, status: str | None = None, embeddings: bool = False
    ) -> list[CaseRecord]:
        """Return up to n nearest cases (of one status, if given), with `similarity`, best first.

        A status is filtered after an over-fetching HNSW query, not with Chroma's `where` (which turns a
        1 ms query into a scan: ~90 ms at 20k cases); the fetch grows only when too few match.
        """
        if n <= 0:
            return []
        fetch = n if status is None else 2 * n + 8
        while True:
            rows = self._nearest(vector, fetch, embeddings)
            kept = [r for r in rows if status is None or r["status"] == status]
            if len(kept) >= n or len(rows) < fetch:
                return kept[:n]
            fetch *= 4

    def _nearest(self, vector: np.ndarray, n: int, embeddings: bool) -> list[CaseRecord]:
        include = ["documents", "metadatas", "distances"] + (["embeddings"] if embeddings else [])
        got = self.collection.query(
            query_embeddings=np.asarray(vector, dtype=np.float32)[None, :],
            n_results=n,
            include=include,
        )
        flat = {k: (v[0] if v is not None else None) for k, v in got.items() if isinstance(v, list)}
        rows = self._rows(flat, embeddings)
        for row, dist in zip(rows, flat["distances"], strict=True):
            row["similarity"] = 1.0 - float(dist)
        return rows

    def delete(self, ids: Sequence[str]) -> None:
        """Remove cases for good."""
        for part in chunks(list(ids)):
            self.collection.delete(ids=part)

    @staticmethod
    def _rows(got: dict[str, Any], embeddings: bool) -> list[CaseRecord]:
        rows = []
        for i, case_id in enumerate(got["ids"]):
            case = from_metadata(case_id, got["documents"][i], got["metadatas"][i] or {})
            if embeddings:
                case["embedding"] = np.asarray(got["embeddings"][i], dtype=np.float32)
            rows.append(case)
        return rows
