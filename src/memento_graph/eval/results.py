"""The per-item results JSONL of an eval run and its manifest: what makes a run resumable."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

from memento_graph.errors import MementoError

RESULTS = "results.jsonl"
MANIFEST = "manifest.json"
# Settings that change what an item's result means; a rerun into the same --out must keep them.
FIXED = ("dataset_sha256", "format", "memory", "shuffle", "limit", "cases_sha256", "seen_filter")


class ResultsLog:
    """Append-only JSONL of finished items, keyed by arm/seed/iteration/item id."""

    def __init__(self, out: Path) -> None:
        self.path = out / RESULTS

    def load(self) -> dict[str, dict[str, Any]]:
        """Return the finished records by key (last wins), cutting a line left half-written."""
        if not self.path.exists():
            return {}
        raw = self.path.read_bytes()
        if raw and not raw.endswith(b"\n"):
            raw = raw[: raw.rfind(b"\n") + 1]
            with self.path.open("r+b") as fh:  # a kill mid-write: drop the partial line
                fh.truncate(len(raw))
        records: dict[str, dict[str, Any]] = {}
        for line in raw.decode("utf-8").splitlines():
            if line.strip():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue
                records[rec["key"]] = rec
        return records

    def append(self, record: dict[str, Any]) -> None:
        """Write one finished record durably (flushed and fsynced)."""
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def file_sha256(path: Path) -> str:
    """Return the SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def open_manifest(out: Path, settings: dict[str, Any]) -> dict[str, Any]:
    """Write the run's manifest, or check a rerun against it; return it (with its run id)."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / MANIFEST
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            raise MementoError(f"{path} is not valid JSON; use another --out") from None
        for key in FIXED:
            if old.get(key) != settings.get(key):
                raise MementoError(
                    f"--out {out} holds a run with {key}={old.get(key)!r}, not "
                    f"{settings.get(key)!r}; use the same settings to resume or another --out"
                )
        manifest = {**old, **settings, "run_id": old["run_id"]}
    else:
        manifest = {**settings, "run_id": uuid.uuid4().hex[:8]}
    path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest
