"""A learned policy's saved state: numpy arrays in one npz blob per key, with a version counting its saves."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np

from memento_graph.memory.experience_schema import upsert
from memento_graph.memory.schema import now_iso


class HeldState:
    """A policy state held for a read-modify-write: its stored version and arrays, and `save`."""

    def __init__(
        self, conn: Any, key: str, version: int, blob: Any, decode: Callable[[Any], dict]
    ) -> None:
        """Hold the row read on `conn` (in its write transaction); `decode` reads a blob's arrays."""
        self.conn, self.key, self.version, self._blob, self._decode = (
            conn,
            key,
            version,
            blob,
            decode,
        )

    def arrays(self) -> dict[str, np.ndarray] | None:
        """Return the stored arrays (None when nothing is stored)."""
        return None if self._blob is None else self._decode(self._blob)

    def save(self, arrays: dict[str, np.ndarray]) -> int:
        """Write `arrays` as the next version (committed with the block); return that version."""
        buf = io.BytesIO()
        np.savez(buf, allow_pickle=False, **arrays)  # numbers only (and read back so)
        self.version += 1
        row = {"key": self.key, "state": buf.getvalue(), "updated_at": now_iso(),
               "version": self.version}  # fmt: skip
        self.conn.execute(*upsert("policy_state", row, "key"))
        self._blob = row["state"]
        return self.version


def read_state(blob: Any) -> dict[str, np.ndarray]:
    """Return the arrays of a saved policy state; ValueError saying why when they do not load."""
    if not isinstance(blob, bytes) or not blob:
        raise ValueError("empty policy state")
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as exc:  # noqa: BLE001 - numpy and zipfile raise many types on garbage
        raise ValueError(" ".join(f"unreadable policy state: {exc}".split())[:160]) from None
    weights, updates = arrays.get("weights"), arrays.get("updates")
    if weights is None or updates is None or updates.shape != (1,):
        raise ValueError("policy state without weights and updates")
    if not np.all(np.isfinite(weights)):
        raise ValueError("policy state with non-finite weights")
    return arrays
