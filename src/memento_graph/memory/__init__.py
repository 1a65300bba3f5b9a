"""The learning memory: case bank (Chroma), experience store (SQLite or PostgreSQL), policies, lifecycle.

All calls are synchronous and thread-safe; async code calls them through `asyncio.to_thread`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from memento_graph.memory.core import POLICIES, Memory
from memento_graph.memory.embeddings import make_embedder
from memento_graph.memory.portability import adopt_cases_of_other_embedder

if TYPE_CHECKING:
    from memento_graph.context import Context

__all__ = ["POLICIES", "Memory", "open_memory"]


def open_memory(context: Context) -> Memory:
    """Open the memory of `context.user` under `context.home` (no cache: the agent keeps it)."""
    from memento_graph.memory.experience_postgres import postgres_url

    embedder = make_embedder(context.embedding_model, context)
    memory = Memory(context.home_path, context.user, embedder, experience_url=postgres_url())
    adopt_cases_of_other_embedder(memory)  # switching embedder keeps the cases (re-embedded)
    return memory
