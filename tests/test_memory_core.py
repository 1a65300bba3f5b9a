"""The memory API the graph nodes rely on: open, retrieve, write back, inspect (real MiniLM, real Chroma)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from fixtures.episodes import MODELS, finish
from memento_graph.context import Context
from memento_graph.errors import MementoError
from memento_graph.memory import lifecycle, open_memory


def test_written_case_comes_back_for_a_similar_task(memory):
    assert memory.retrieve("Who wrote Hamlet?", 4, "similarity") == []
    case = finish(
        memory, "t1", "Which is older, the Eiffel Tower or the Statue of Liberty?", plan="compare"
    )
    assert case["provenance"]["thread_id"] == "t1"
    assert case["provenance"]["models"] == MODELS
    assert case["provenance"]["embedder"] == "onnx:all-MiniLM-L6-v2"
    assert case["judge"]["source"] == "ground_truth" and case["status"] == "active"
    finish(memory, "t2", "What is the boiling point of water in Kelvin?", reward=0.0)
    hits = memory.retrieve("Is the Statue of Liberty older than the Eiffel Tower?", 4, "similarity")
    assert [h["rank"] for h in hits] == [1, 2]
    assert hits[0]["id"] == case["id"] and hits[0]["plan"] == "compare"
    assert hits[0]["label"] == "positive" and hits[1]["label"] == "negative"
    assert hits[0]["score"] > hits[1]["score"]
    assert set(hits[0]) >= {"id", "task", "plan", "answer", "reward", "score", "rank", "label"}


def test_learned_policy_returns_k_ranked_cases(memory):
    for i, city in enumerate(["Paris", "Berlin", "Rome", "Madrid", "Lisbon", "Vienna"]):
        finish(memory, f"t{i}", f"What is the population of {city}?", reward=float(i % 2))
    hits = memory.retrieve("What is the population of Prague?", 4, "learned")
    assert len(hits) == 4 and [h["rank"] for h in hits] == [1, 2, 3, 4]
    assert all(0.0 <= h["score"] <= 1.0 for h in hits)
    assert memory.retrieve("anything", 4, "none") == []
    with pytest.raises(MementoError):
        memory.retrieve("anything", 4, "psychic")


def test_episode_records_retrievals_and_usage(memory):
    first = finish(memory, "t1", "Who painted the Mona Lisa?")
    shown = memory.retrieve("Who painted the Last Supper?", 4, "similarity")
    finish(
        memory,
        "t2",
        "Who painted the Last Supper?",
        reward=0.0,
        retrieved=shown,
        tokens={"input": 30, "output": 12},
    )
    episode = memory.episode("t2")
    assert episode["reward"] == 0.0 and episode["tokens"] == {"input": 30, "output": 12}
    assert [(r["case_id"], r["rank"]) for r in episode["retrieved"]] == [(first["id"], 1)]
    usage = memory.get_case(first["id"])["usage"]
    assert usage["times_retrieved"] == 1 and usage["rewards"] == [0.0]
    assert memory.episode("unknown") is None


def test_complete_episode_is_idempotent_per_thread(memory):
    finish(memory, "t1", "Who discovered penicillin?")
    shown = memory.retrieve("Who discovered insulin?", 4, "similarity")
    one = finish(memory, "t2", "Who discovered insulin?", retrieved=shown)
    two = finish(memory, "t2", "Who discovered insulin?", retrieved=shown)
    assert one["id"] == two["id"]
    assert len(memory.list_cases()) == 2
    assert memory.get_case(shown[0]["id"])["usage"]["times_retrieved"] == 1


def test_near_duplicate_updates_the_existing_case(memory):
    old = finish(
        memory,
        "t1",
        "Which is older, the Eiffel Tower or the Statue of Liberty?",
        reward=0.0,
        plan="bad",
    )
    new = finish(
        memory, "t2", "Which is older, the Eiffel Tower or the Statue of Liberty ?", plan="good"
    )
    assert new["id"] == old["id"] and new["plan"] == "good" and new["reward"] == 1.0
    assert new["revisions"] == 1 and new["provenance"]["thread_id"] == "t2"
    kept = finish(
        memory,
        "t3",
        "which is older, the eiffel tower or the statue of liberty",
        reward=0.0,
        plan="worse",
    )
    assert kept["plan"] == "good" and kept["revisions"] == 2
    assert len(memory.list_cases()) == 1
    other = finish(memory, "t4", "Which is taller, the Eiffel Tower or the Statue of Liberty?")
    assert other["id"] != old["id"]


def test_quarantined_and_retired_cases_never_come_back(memory):
    a = finish(memory, "t1", "What is the capital of Peru?")
    b = finish(memory, "t2", "What is the capital of Chile?")
    c = finish(memory, "t3", "What is the capital of Bolivia?")
    lifecycle.set_status(memory.bank, a["id"], "quarantined", "test")
    lifecycle.set_status(memory.bank, b["id"], "retired", "test")
    for policy in ("similarity", "learned"):
        assert [h["id"] for h in memory.retrieve("capital of Peru", 4, policy)] == [c["id"]]
    assert memory.get_case(a["id"])["status"] == "quarantined"
    assert {h["id"] for h in memory.search("capital of Peru", 5)} == {a["id"], b["id"], c["id"]}
    assert [x["id"] for x in memory.list_cases(status="retired")] == [b["id"]]


def test_delete_and_users_are_kept_apart(memory, home):
    case = finish(memory, "t1", "How tall is Mount Everest?")
    other = open_memory(Context(home=str(home), user="bob"))
    assert other.retrieve("How tall is Mount Everest?", 4, "similarity") == []
    assert other.episode("t1") is None
    assert memory.delete_case(case["id"]) is True
    assert memory.delete_case(case["id"]) is False
    assert memory.get_case(case["id"]) is None
    assert memory.retrieve("How tall is Mount Everest?", 4, "similarity") == []


def test_concurrent_calls_from_threads(memory):
    tasks = [f"What is the atomic number of element {i}?" for i in range(16)]

    def run(i: int):
        shown = memory.retrieve(tasks[i], 4, "learned" if i % 2 else "similarity")
        return finish(memory, f"c{i}", tasks[i], reward=float(i % 2), retrieved=shown)

    with ThreadPoolExecutor(8) as pool:
        cases = list(pool.map(run, range(16)))
    assert all(c["id"] for c in cases)
    assert all(memory.episode(f"c{i}")["case_id"] == cases[i]["id"] for i in range(16))


def test_reopened_memory_keeps_cases_and_policy(memory, home):
    finish(memory, "t1", "Who invented the telephone?")
    shown = memory.retrieve("Who invented the light bulb?", 4, "learned")
    finish(memory, "t2", "Who invented the light bulb?", retrieved=shown, policy="learned")
    weights = memory.learned_policy(384).weights.copy()
    from memento_graph.memory.core import Memory

    again = Memory(home, "default", memory.embedder)
    assert len(again.list_cases()) == 2
    assert (again.learned_policy(384).weights == weights).all()


def test_missing_embedding_model_is_one_clear_line(home, monkeypatch, tmp_path):
    monkeypatch.setenv("MEMENTO_EMBEDDING_MODEL_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(MementoError) as err:
        open_memory(Context(home=str(home), user="nomodel"))
    message = str(err.value)
    assert "\n" not in message and "MEMENTO_EMBEDDING_MODEL_DIR" in message


def test_bad_reward_is_rejected(memory):
    with pytest.raises(MementoError):
        finish(memory, "t1", "Who?", reward=2.0)
    assert memory.list_cases() == []


def test_openai_embeddings_through_a_compatible_server(llm, home):
    memory = open_memory(Context(home=str(home), embedding_model="openai:text-embedding-3-small"))
    case = finish(memory, "t1", "Which river flows through Cairo?")
    hits = memory.retrieve("Which river flows through Cairo?", 4, "similarity")
    assert hits[0]["id"] == case["id"] and hits[0]["score"] == pytest.approx(1.0, abs=1e-4)
    assert case["provenance"]["embedder"] == "openai:text-embedding-3-small"
    stored = memory.bank.get([case["id"]], embeddings=True)[0]
    assert stored["embedding"].shape == (16,)  # the vectors the server made
