"""Export/import: the original Memento case bank as is, our JSONL round trip, re-embedding, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fixtures.episodes import finish
from memento_graph.context import Context
from memento_graph.errors import MementoError
from memento_graph.memory import lifecycle, open_memory
from memento_graph.memory.portability import export_cases, import_cases

ORIGINAL = (
    Path(__file__).resolve().parents[1].parent / "shared" / "data" / "memento" / "memory.jsonl"
)


def test_imports_the_original_case_bank(memory):  # noqa: F811
    result = import_cases(memory, ORIGINAL)
    assert result == {"imported": 1278, "skipped": 0, "re_embedded": 1278, "format": "original"}
    cases = memory.list_cases(limit=2000)
    assert len(cases) == 1278
    assert sum(c["label"] == "positive" for c in cases) == 897
    hit = memory.retrieve("Which sport is played by Deportivo Cali?", 4, "similarity")[0]
    assert hit["task"] == "What sport does Deportivo Cali play?" and hit["label"] == "positive"
    assert "Deportivo Cali" in hit["plan"]
    case = memory.get_case(hit["id"])
    assert (
        case["judge"]["source"] == "import" and "case_label=positive" in case["judge"]["rationale"]
    )
    assert case["provenance"]["source"] == "import:memory.jsonl"
    again = import_cases(memory, ORIGINAL)
    assert again["imported"] == 0 and again["skipped"] == 1278


def test_imports_question_plan_reward(memory, tmp_path):  # noqa: F811
    path = tmp_path / "train.jsonl"
    rows = [{"question": "Who founded Rome?", "plan": {"plan": [{"id": 1}]}, "reward": 1},
            {"question": "Who founded Carthage?", "plan": "p", "reward": 0.0}]  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert import_cases(memory, path)["imported"] == 2
    rewards = {c["task"]: c["reward"] for c in memory.list_cases()}
    assert rewards == {"Who founded Rome?": 1.0, "Who founded Carthage?": 0.0}


def test_round_trip_keeps_cases_and_statuses(memory, home, tmp_path):  # noqa: F811
    kept = finish(memory, "t1", "What is the tallest mountain in Africa?", plan="look it up")
    gone = finish(memory, "t2", "What is the longest river in Asia?", reward=0.0)
    lifecycle.set_status(memory.bank, gone["id"], "quarantined", "test")
    out = tmp_path / "cases.jsonl"
    assert export_cases(memory, out) == 2
    manifest = json.loads(out.read_text().splitlines()[0])["manifest"]
    assert manifest["schema_version"] == 1 and manifest["embedder"] == "onnx:all-MiniLM-L6-v2"
    with pytest.raises(MementoError):
        export_cases(memory, out)
    other = open_memory(Context(home=str(home), user="carol"))
    result = import_cases(other, out)
    assert result["imported"] == 2 and result["re_embedded"] == 0
    assert other.get_case(gone["id"])["status"] == "quarantined"
    hit = other.retrieve("tallest mountain in Africa", 4, "similarity")
    assert [h["id"] for h in hit] == [kept["id"]] and hit[0]["plan"] == "look it up"


def test_import_re_embeds_under_another_embedder(memory, home, tmp_path, llm):  # noqa: F811
    finish(memory, "t1", "Which planet has the most moons?")
    out = tmp_path / "cases.jsonl"
    export_cases(memory, out)
    remote = open_memory(Context(home=str(home), user="dan", embedding_model="openai:emb"))
    assert import_cases(remote, out)["re_embedded"] == 1
    assert remote.retrieve("Which planet has the most moons?", 4, "similarity")[0]["score"] > 0.999


def test_switching_embedder_keeps_the_cases(memory, home, llm):  # noqa: F811
    case = finish(memory, "t1", "Who composed the Four Seasons?")
    switched = open_memory(Context(home=str(home), embedding_model="openai:emb"))
    hit = switched.retrieve("Who composed the Four Seasons?", 4, "similarity")
    assert hit[0]["id"] == case["id"] and hit[0]["score"] > 0.999


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"case": "q", "plan": "p", "case_label": "positive"}\n{oops\n', "line 2: not valid JSON"),
        ('{"case": "q", "plan": "p", "case_label": "maybe"}\n', "case_label"),
        ('{"question": "q", "plan": "p", "reward": 3}\n', "reward"),
        ('{"foo": 1}\n', "not a case"),
        ("\n", "no cases"),
    ],
)
def test_bad_files_fail_clearly_and_store_nothing(memory, tmp_path, content, message):  # noqa: F811
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(MementoError, match=message):
        import_cases(memory, path)
    assert memory.list_cases() == []
    with pytest.raises(MementoError, match="no such file"):
        import_cases(memory, tmp_path / "missing.jsonl")


@pytest.mark.integration  # slow: embeds and stores a large import
def test_imports_more_cases_than_sqlite_has_variables(home, tmp_path):
    """One file of 33,000 cases: every Chroma call by ids is batched (SQLite allows 32,766 variables)."""
    from hashed_embedder import HashedEmbedder
    from memento_graph.memory.core import Memory

    path = tmp_path / "big.jsonl"
    rows = (
        json.dumps({"question": f"task {i}", "plan": "p", "reward": i % 2}) for i in range(33000)
    )
    path.write_text("\n".join(rows) + "\n")
    big = Memory(home, "big", HashedEmbedder(), max_cases=40000)
    assert import_cases(big, path)["imported"] == 33000
    assert big.bank.count() == 33000
    assert import_cases(big, path)["skipped"] == 33000
    assert len(big.bank.get(big.bank.ids())) == 33000
