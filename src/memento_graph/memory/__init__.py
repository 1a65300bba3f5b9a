"""The learning memory: case bank (Chroma), experience store (SQLite or PostgreSQL), policies, lifecycle.

All calls are synchronous and thread-safe; async code calls them through `asyncio.to_thread`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from memento_graph.memory.core import POLICIES, Memory
from memento_graph.memory.embeddings import make_embedder
from memento_graph.memory.portability import adopt_cases_of_other_embedder

if TYPE_CHECKING:
    from memento_graph.context import Context

__all__ = ["POLICIES", "Memory", "open_memory"]

_MEMORIES: dict[tuple[str, str, str, str], Memory] = {}
_LOCK = threading.Lock()


def open_memory(context: Context) -> Memory:
    """Return the memory of `context.user` under `context.home` (cached per home, user and embedder)."""
    from memento_graph.memory.experience_postgres import postgres_url

    home = context.home_path
    url = postgres_url()
    key = (str(home.resolve()), context.user, context.embedding_model, url)
    with _LOCK:
        if key not in _MEMORIES:
            embedder = make_embedder(context.embedding_model, context)
            memory = Memory(home, context.user, embedder, experience_url=url)
            adopt_cases_of_other_embedder(
                memory
            )  # switching embedder keeps the cases (re-embedded)
            _MEMORIES[key] = memory
        return _MEMORIES[key]
