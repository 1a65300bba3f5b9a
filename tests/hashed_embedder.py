"""A cheap deterministic embedder for tests that need many cases (no model, no network)."""

from __future__ import annotations

import hashlib

import numpy as np

from memento_graph.memory.embeddings import normalise


class HashedEmbedder:
    """Embeds a text as a unit vector seeded by its hash: equal texts match, others are near-orthogonal."""

    def __init__(self, dim: int = 16) -> None:
        self.dim = dim
        self.id = f"test:hashed-{dim}"

    def embed(self, texts: list[str]) -> np.ndarray:
        """Return one normalised float32 row per text."""
        rows = [
            np.random.default_rng(int.from_bytes(hashlib.sha1(t.encode()).digest()[:8])).normal(
                size=self.dim
            )
            for t in texts
        ]
        return normalise(np.asarray(rows).reshape(len(texts), self.dim))
