"""Retrieval shows only what is useful: cases below the similarity floor never reach the planner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from memento_graph.agent import open_agent
from memento_graph.context import Context
from memento_graph.memory import open_memory
from roles import is_first_plan, script_task
from scripted_llm import last_user

MODEL_DIR = Path(
    os.environ.get("MEMENTO_EMBEDDING_MODEL_DIR")
    or Path(__file__).resolve().parents[1].parent / "shared" / "models" / "all-MiniLM-L6-v2"
)
JUDGE = {"source": "ground_truth", "model": None, "rationale": "exact match"}


@pytest.fixture
def memory(home: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MEMENTO_EMBEDDING_MODEL_DIR", str(MODEL_DIR))
    return open_memory(Context(home=str(home)))


def finish(memory, thread_id: str, task: str, reward: float = 1.0):
    return memory.complete_episode(
        thread_id=thread_id, task=task, plan="p", answer="a", reward=reward, judge=JUDGE,
        retrieved=[], policy="similarity", models={},
    )  # fmt: skip


@pytest.mark.parametrize("policy", ["similarity", "learned"])
def test_the_floor_hides_unrelated_cases_and_keeps_related_ones(memory, policy):
    related = finish(memory, "t1", "What is the capital of Peru?")  # 0.72 to the query
    finish(memory, "t2", "How many moons does Jupiter have?", reward=0.0)  # 0.28
    finish(memory, "t3", "Who painted the Mona Lisa?")
    query = "What is the capital of Chile?"
    assert len(memory.retrieve(query, 4, policy)) == 3  # no floor: the nearest, related or not
    shown = memory.retrieve(query, 4, policy, floor=Context().similarity_floor)
    assert [h["id"] for h in shown] == [related["id"]] and shown[0]["similarity"] >= 0.4
    assert memory.retrieve(query, 4, policy, floor=0.9) == []


async def test_the_planner_sees_no_unrelated_case_under_the_default_floor(llm, home, monkeypatch):
    script_task(llm, ["Look up both construction dates"], "Statue of Liberty")
    async with open_agent(Context()) as agent:
        await agent.run("Which is older, the Eiffel Tower or the Statue of Liberty?")
        unrelated = await agent.run("How many moons does Jupiter have?")  # similarity 0.25
        related = await agent.run("Which is older, the Eiffel Tower or Big Ben?")  # 0.75
    prompts = [last_user(r) for r in llm.requests(is_first_plan)]
    assert "examples" not in prompts[1] and unrelated.cases_used == []
    assert "Positive examples" in prompts[2] and len(related.cases_used) >= 1
    monkeypatch.setenv("MEMENTO_SIMILARITY_FLOOR", "0")  # the floor off: the nearest case shows
    async with open_agent(Context()) as agent:
        again = await agent.run("How many moons does Saturn have?")
    assert "Eiffel Tower" in last_user(llm.requests(is_first_plan)[-1]) and again.cases_used
