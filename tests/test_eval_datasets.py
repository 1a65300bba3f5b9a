"""Readers of the eval data sets: each published format as is, and one-line errors naming the line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from memento_graph.errors import MementoError
from memento_graph.eval.datasets import load_dataset

SHARED = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "memento" / "deepresearcher.jsonl"
)


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_plain_jsonl_answer_and_answers(tmp_path):
    path = write_jsonl(
        tmp_path / "qa.jsonl",
        [
            {"question": "Capital of France?", "answer": "Paris", "topic": "geo"},
            {"id": "q2", "question": "2+2?", "answers": ["4", "four"]},
        ],
    )
    items = load_dataset(path)
    assert [i.id for i in items] == ["L1", "q2"]
    assert items[0].answers == ["Paris"] and items[0].fields["topic"] == "geo"
    assert items[1].answers == ["4", "four"] and items[1].ground_truth == "4<|answer_split|>four"


def test_deepresearcher_format_alternatives_and_distribution(tmp_path):
    path = write_jsonl(
        tmp_path / "dr.jsonl",
        [
            {
                "question": "Capital of Columbia County?",
                "ground_truth": "Bloomsburg<|answer_split|>Eyersburg",
                "data_source": "popqa",
            },
            {"question": "Who wrote Hamlet?", "ground_truth": "Shakespeare", "data_source": "nq"},
        ],
    )
    items = load_dataset(path)
    assert items[0].answers == ["Bloomsburg", "Eyersburg"]
    assert items[0].fields["distribution"] == "out" and items[1].fields["distribution"] == "in"


def test_original_deepresearcher_file_reads_as_is():
    items = load_dataset(SHARED)
    assert len(items) == 3197
    sources = {i.fields["data_source"] for i in items}
    assert {"2wiki", "popqa", "tq", "hotpotqa", "nq", "musique", "Bamboogle"} == sources
    assert {i.fields["distribution"] for i in items} == {"in", "out"}
    assert max(len(i.answers) for i in items) > 10  # alternatives split on <|answer_split|>


def test_gaia_metadata_with_attachment_beside_it(tmp_path):
    (tmp_path / "sheet.xlsx").write_bytes(b"xlsx")
    write_jsonl(
        tmp_path / "metadata.jsonl",
        [
            {
                "task_id": "t-1",
                "Question": "Sum column A",
                "Level": 1,
                "Final answer": "42",
                "file_name": "sheet.xlsx",
                "Annotator Metadata": {"Steps": "..."},
            },
            {
                "task_id": "t-2",
                "Question": "Who?",
                "Level": "2",
                "Final answer": "Ada",
                "file_name": "",
            },
        ],
    )
    items = load_dataset(tmp_path)  # the folder works too
    assert [i.id for i in items] == ["t-1", "t-2"]
    assert items[0].files == [str((tmp_path / "sheet.xlsx").resolve())] and items[1].files == []
    assert items[0].fields["Level"] == "1" and "Annotator Metadata" not in items[0].fields


def test_gaia_missing_attachment_names_the_line(tmp_path):
    path = write_jsonl(
        tmp_path / "metadata.jsonl",
        [
            {"task_id": "a", "Question": "Q", "Level": 1, "Final answer": "x", "file_name": ""},
            {
                "task_id": "b",
                "Question": "Q",
                "Level": 1,
                "Final answer": "x",
                "file_name": "gone.pdf",
            },
        ],
    )
    with pytest.raises(MementoError, match=r"metadata.jsonl line 2: attachment not found"):
        load_dataset(path)


def test_simpleqa_csv_with_metadata_topic(tmp_path):
    path = tmp_path / "simple_qa_test_set.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["metadata", "problem", "answer"])
        w.writerow(
            [
                "{'topic': 'Science', 'answer_type': 'Person', 'urls': ['https://x']}",
                "Who discovered X?",
                "Jane Doe",
            ]
        )
        w.writerow(["{'topic': 'Art'}", "Which year?", "1999"])
    items = load_dataset(path)
    assert [i.question for i in items] == ["Who discovered X?", "Which year?"]
    assert items[0].fields["topic"] == "Science" and items[0].answers == ["Jane Doe"]
    assert items[0].id == "L2"


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (['{"question": "ok", "answer": "a"}', "{not json"], r"qa.jsonl line 2: not valid JSON"),
        (
            [{"question": "ok", "answer": "a"}, {"question": "no answer"}],
            r"qa.jsonl line 2: missing field 'answer' \(or 'answers'\)",
        ),
        (
            [{"question": "", "answer": "a"}],
            r"qa.jsonl line 1: field 'question' must be a non-empty",
        ),
        ([{"question": "q", "answers": "a"}], r"qa.jsonl line 1: field 'answers' must be a list"),
        (
            [
                {"question": "q", "ground_truth": "a", "data_source": "nq"},
                {"question": "q2", "ground_truth": "b"},
            ],
            r"qa.jsonl line 2: missing field 'data_source'",
        ),
        (["[1, 2]"], r"qa.jsonl line 1: expected a JSON object"),
        (
            [
                {"id": "x", "question": "q", "answer": "a"},
                {"id": "x", "question": "r", "answer": "b"},
            ],
            r"item id 'x' appears twice",
        ),
    ],
)
def test_bad_lines_are_one_line_errors_naming_the_line(tmp_path, rows, message):
    path = write_jsonl(tmp_path / "qa.jsonl", rows)
    with pytest.raises(MementoError, match=message) as info:
        load_dataset(path)
    assert "\n" not in str(info.value)


def test_simpleqa_missing_column_and_missing_file(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("metadata,question,answer\n{},q,a\n")
    with pytest.raises(MementoError, match=r"s.csv line 1: missing column 'problem'"):
        load_dataset(path)
    with pytest.raises(MementoError, match="data set not found"):
        load_dataset(tmp_path / "nope.jsonl")
    with pytest.raises(MementoError, match="unknown data set format"):
        load_dataset(path, "parquet")
