"""Readers of evaluation data sets in their published formats, into one `EvalItem` shape.

Formats: plain JSONL (`question` + `answer` or `answers`), the original Memento
`deepresearcher.jsonl` (`question`, `ground_truth` joined by `<|answer_split|>`, `data_source`),
GAIA's `metadata.jsonl` (`Question`, `Final answer`, `file_name`, `Level`) with attachments beside
it, and SimpleQA's CSV (`metadata`, `problem`, `answer`). Every bad line is a `MementoError`
naming the file and line.
"""

from __future__ import annotations

import ast
import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from memento_graph.errors import MementoError
from memento_graph.jsonl import read_jsonl
from memento_graph.scoring import split_ground_truth

FORMATS = ("auto", "jsonl", "deepresearcher", "gaia", "simpleqa")

# The paper trains on NQ, TQ, HotpotQA and 2Wiki and tests out of distribution on the rest.
IN_DISTRIBUTION = {"nq", "tq", "hotpotqa", "2wiki"}
OUT_OF_DISTRIBUTION = {"musique", "bamboogle", "popqa"}


@dataclass
class EvalItem:
    """One question of a data set with its accepted answers and split fields."""

    id: str
    question: str
    answers: list[str]
    files: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def ground_truth(self) -> str:
        """Return the accepted answers joined the way the core's scorer splits them."""
        return "<|answer_split|>".join(self.answers)


def load_dataset(path: str | Path, fmt: str = "auto") -> list[EvalItem]:
    """Read a data set file (or a GAIA folder holding metadata.jsonl) into items."""
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / "metadata.jsonl"
    if not path.is_file():
        raise MementoError(f"data set not found: {path}")
    if fmt not in FORMATS:
        raise MementoError(f"unknown data set format {fmt!r}; use one of {', '.join(FORMATS)}")
    if path.suffix.lower() == ".csv":
        if fmt not in ("auto", "simpleqa"):
            raise MementoError(f"{path.name}: a CSV file is read as simpleqa, not {fmt}")
        try:
            items = _read_simpleqa(path)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise MementoError(f"{path} is not a UTF-8 CSV file: {exc}") from None
    else:
        records = read_jsonl(path)
        kind = _detect(path, records) if fmt == "auto" else fmt
        reader = {"jsonl": _plain, "deepresearcher": _deepresearcher, "gaia": _gaia}[kind]
        items = [reader(path, line, rec) for line, rec in records]
    if not items:
        raise MementoError(f"{path.name}: the data set holds no items")
    _check_unique(path, items)
    return items


def _detect(path: Path, records: list[tuple[int, dict[str, Any]]]) -> str:
    if not records:
        raise MementoError(f"{path.name}: the data set holds no items")
    keys = set(records[0][1])
    if "Question" in keys or path.name == "metadata.jsonl":
        return "gaia"
    if "ground_truth" in keys:
        return "deepresearcher"
    return "jsonl"


def _text(path: Path, line: int, rec: dict[str, Any], name: str) -> str:
    value = rec.get(name)
    if value is None:
        raise MementoError(f"{path.name} line {line}: missing field {name!r}")
    if (
        not isinstance(value, str | int | float)
        or isinstance(value, bool)
        or not str(value).strip()
    ):
        raise MementoError(f"{path.name} line {line}: field {name!r} must be a non-empty string")
    return str(value).strip()


def _scalars(rec: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in rec.items() if isinstance(v, str | int | float | bool)}


def _plain(path: Path, line: int, rec: dict[str, Any]) -> EvalItem:
    question = _text(path, line, rec, "question")
    if "answers" in rec:
        raw = rec["answers"]
        if not isinstance(raw, list) or not all(isinstance(a, str | int | float) for a in raw):
            raise MementoError(
                f"{path.name} line {line}: field 'answers' must be a list of strings"
            )
        answers = split_ground_truth([str(a) for a in raw])
    elif "answer" in rec:
        answers = split_ground_truth(_text(path, line, rec, "answer"))
    else:
        raise MementoError(f"{path.name} line {line}: missing field 'answer' (or 'answers')")
    if not answers:
        raise MementoError(f"{path.name} line {line}: no non-empty answer")
    item_id = str(rec.get("id") or f"L{line}")
    return EvalItem(item_id, question, answers, fields=_scalars(rec))


def _deepresearcher(path: Path, line: int, rec: dict[str, Any]) -> EvalItem:
    question = _text(path, line, rec, "question")
    answers = split_ground_truth(_text(path, line, rec, "ground_truth"))
    source = _text(path, line, rec, "data_source")
    fields = _scalars(rec)
    fields["distribution"] = distribution(source)
    return EvalItem(f"L{line}", question, answers, fields=fields)


def distribution(data_source: str) -> str:
    """Return `in`, `out` or `unknown`: the paper's in/out-of-distribution split of a source."""
    key = data_source.strip().lower()
    if key in IN_DISTRIBUTION:
        return "in"
    return "out" if key in OUT_OF_DISTRIBUTION else "unknown"


def _gaia(path: Path, line: int, rec: dict[str, Any]) -> EvalItem:
    question = _text(path, line, rec, "Question")
    answer = _text(path, line, rec, "Final answer")
    if "Level" not in rec:
        raise MementoError(f"{path.name} line {line}: missing field 'Level'")
    files = []
    name = rec.get("file_name") or ""
    if not isinstance(name, str):
        raise MementoError(f"{path.name} line {line}: field 'file_name' must be a string")
    if name:
        attachment = path.parent / name
        if not attachment.is_file():
            raise MementoError(f"{path.name} line {line}: attachment not found: {attachment}")
        files.append(str(attachment.resolve()))
    item_id = str(rec.get("task_id") or f"L{line}")
    return EvalItem(item_id, question, [answer], files=files, fields=_scalars(rec))


def _read_simpleqa(path: Path) -> list[EvalItem]:
    items = []
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"problem", "answer"} - set(reader.fieldnames or [])
        if missing:
            raise MementoError(f"{path.name} line 1: missing column {sorted(missing)[0]!r}")
        for row in reader:
            line = reader.line_num
            rec: dict[str, Any] = dict(row)
            question = _text(path, line, rec, "problem")
            answer = _text(path, line, rec, "answer")
            fields = {k: v for k, v in rec.items() if isinstance(v, str) and k != "metadata"}
            fields.update(_simpleqa_metadata(path, line, rec.get("metadata")))
            items.append(EvalItem(f"L{line}", question, [answer], fields=fields))
    return items


def _simpleqa_metadata(path: Path, line: int, raw: str | None) -> dict[str, str]:
    """Parse SimpleQA's metadata column, a Python dict literal (topic, answer_type, urls)."""
    if not raw:
        return {}
    try:
        meta = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        raise MementoError(f"{path.name} line {line}: column 'metadata' is not a dict") from None
    if not isinstance(meta, dict):
        raise MementoError(f"{path.name} line {line}: column 'metadata' is not a dict")
    return _scalars(meta)


def _check_unique(path: Path, items: list[EvalItem]) -> None:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            raise MementoError(f"{path.name}: item id {item.id!r} appears twice")
        seen.add(item.id)
