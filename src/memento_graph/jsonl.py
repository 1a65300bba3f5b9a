"""Reading JSONL files whose every bad line is a one-line error naming the line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from memento_graph.errors import MementoError


def read_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """Return (line number, object) for every non-blank line; a bad line is a MementoError."""
    records: list[tuple[int, dict[str, Any]]] = []
    try:
        _read(path, records)
    except UnicodeDecodeError as exc:
        line = len(records) + 1
        raise MementoError(
            f"{path} is not UTF-8 text (near line {line}: {exc.reason}): a JSONL file is expected"
        ) from None
    return records


def _read(path: Path, records: list[tuple[int, dict[str, Any]]]) -> None:
    with path.open(encoding="utf-8") as fh:
        for line, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise MementoError(f"{path.name} line {line}: not valid JSON ({exc.msg})") from None
            if not isinstance(rec, dict):
                raise MementoError(f"{path.name} line {line}: expected a JSON object")
            records.append((line, rec))
