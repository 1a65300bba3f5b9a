"""Rewards carry a source and a confidence; learning and quarantine weigh evidence by it."""

from __future__ import annotations

import json
import sqlite3

import pytest

from fixtures.episodes import MODELS, finish
from memento_graph.context import Context
from memento_graph.errors import MementoError
from memento_graph.judge import judge_reward
from memento_graph.memory.experience import ExperienceStore
from memento_graph.memory.trust import (
    JUDGE_DISAGREED,
    JUDGE_HIGH,
    reward_confidence,
    sample_agreement,
)
from roles import is_judge
from test_memory_lifecycle import BAD, GOOD, shown_as

JUDGE = {
    "source": "llm_judge",
    "model": "judge-m",
    "rationale": "looks wrong",
    "confidence": "high",
}


def test_confidence_follows_the_source():
    assert reward_confidence({"source": "ground_truth"}) == 1.0
    assert reward_confidence({"source": "user"}) == 1.0
    assert reward_confidence({"source": "llm_judge", "confidence": "high"}) == JUDGE_HIGH < 1.0
    low = reward_confidence({"source": "llm_judge", "confidence": "low"})
    assert low < reward_confidence({"source": "llm_judge"}) < JUDGE_HIGH  # stated none: medium
    assert reward_confidence({"source": "llm_judge", "confidence": 0.99}) == JUDGE_HIGH  # capped
    assert reward_confidence({"source": "llm_judge", "confidence": "sure!"}) == 0.4


def judged_failures_until_quarantine(memory, judge: dict) -> int:
    good = finish(memory, "g0", "What is the population of Oslo?", plan=GOOD)
    case = finish(memory, "p0", "What is the population of Bergen?", plan=BAD)
    for i in range(6):  # peers do well
        finish(memory, f"g{i + 1}", f"What is the area of lake number {i}?", plan=f"lake {i}")
    shown, uses = shown_as(case, good), 0
    while memory.get_case(case["id"])["status"] == "active" and uses < 10:
        uses += 1  # the planner follows the case (and says so) and the reward says it failed
        memory.complete_episode(
            thread_id=f"p{uses}", task=f"How many people live in town {uses}?", plan=BAD,
            answer="a", reward=0.0, judge=judge, retrieved=shown, policy="similarity",
            models=MODELS, attribution={"followed": [case["id"]]},
        )  # fmt: skip
    return uses


def test_a_judge_alone_needs_more_evidence_than_ground_truth_to_quarantine(memory):
    uses = judged_failures_until_quarantine(memory, JUDGE)
    assert uses == 4  # ground truth: 3; a judge wrong 20% of the time errs 4 times in a row 0.2%
    assert memory.episode("p1")["reward_confidence"] == JUDGE_HIGH


def test_ground_truth_quarantines_at_the_third_failure(memory):
    truth = {"source": "ground_truth", "model": None, "rationale": "no match"}
    assert judged_failures_until_quarantine(memory, truth) == 3


def test_feedback_makes_a_judged_reward_certain(memory):
    memory.complete_episode(
        thread_id="t1", task="What is the population of Oslo?", plan=GOOD, answer="a", reward=1.0,
        judge=JUDGE, retrieved=[], policy="similarity", models=MODELS,
    )  # fmt: skip
    assert memory.episode("t1")["reward_confidence"] == JUDGE_HIGH
    memory.feedback("t1", 0.0)
    episode = memory.episode("t1")
    assert episode["reward_confidence"] == 1.0 and episode["judge_source"] == "user"


def test_an_old_store_gains_confidence_and_attribution_without_losing_episodes(tmp_path):
    path = tmp_path / "old.sqlite"
    store = ExperienceStore(path)
    base = {"user": "u", "task": "t", "plan": "p", "reward": 1.0}
    store.record({**base, "thread_id": "a", "judge_source": "ground_truth"}, [])
    store.record({**base, "thread_id": "b", "judge_source": "llm_judge"}, [])
    store.db.close()
    with sqlite3.connect(path) as conn:  # as written before rewards carried a confidence
        conn.execute("alter table episodes drop column reward_confidence")
        conn.execute("alter table episodes drop column attribution")
    again = ExperienceStore(path)
    assert again.episode("a")["reward_confidence"] == 1.0  # ground truth: certain
    assert again.episode("b")["reward_confidence"] is None  # a judge's, not asked then: unknown
    assert again.episode("b")["task"] == "t" and again.episode("b")["attribution"] is None
    again.record({**base, "thread_id": "c", "reward_confidence": 0.4,
                  "attribution": {"followed": ["x"], "avoided": []}}, [])  # fmt: skip
    assert ExperienceStore(path).episode("c")["attribution"] == {"followed": ["x"], "avoided": []}


def test_two_judge_samples_weigh_by_their_agreement():
    assert sample_agreement(["correct"], ["high"]) == (0, JUDGE_HIGH)
    assert sample_agreement(["correct", "correct"], ["high", "high"]) == (0, JUDGE_HIGH)
    assert sample_agreement(["correct", "correct"], ["low", "high"])[1] == pytest.approx(0.4)
    assert sample_agreement(["correct", "incorrect"], ["low", "high"]) == (1, JUDGE_DISAGREED)
    assert sample_agreement(["incorrect", "correct"], ["high", "high"]) == (0, JUDGE_DISAGREED)
    assert reward_confidence({"source": "llm_judge", "confidence": JUDGE_DISAGREED}) == 0.1


def verdict(text: str, confidence: str) -> str:
    return json.dumps({"rationale": "the answer names another year", "verdict": text,
                       "confidence": confidence})  # fmt: skip


async def test_the_judge_is_asked_twice_and_a_disagreement_weighs_little(llm, home):
    llm.rule(is_judge, verdict("incorrect", "high"), times=1)
    llm.rule(is_judge, verdict("correct", "low"))
    state = {"task": "When was the Eiffel Tower completed?", "answer": "1887"}
    reward, record, tokens = await judge_reward(state, Context())
    assert len(llm.requests(is_judge)) == 2 and tokens["input"] == 20  # both samples counted
    assert reward == 0.0  # the more confident sample's verdict, ...
    assert record["samples"] == 2 and record["agreed"] is False
    assert reward_confidence(record) == JUDGE_DISAGREED  # ... weighing little
    assert "a second sample said correct" in record["rationale"]


async def test_two_agreeing_samples_keep_their_confidence_and_one_sample_can_be_chosen(llm, home):
    llm.rule(is_judge, verdict("incorrect", "high"))
    state = {"task": "When was the Eiffel Tower completed?", "answer": "1887"}
    reward, record, _ = await judge_reward(state, Context())
    assert reward == 0.0 and record["agreed"] is True
    assert reward_confidence(record) == JUDGE_HIGH  # agreement: the stated confidence
    reward, record, _ = await judge_reward(state, Context(judge_samples=1))
    assert len(llm.requests(is_judge)) == 3 and "samples" not in record
    assert reward_confidence(record) == JUDGE_HIGH


def test_the_judge_samples_setting_is_checked():
    with pytest.raises(MementoError, match="judge_samples .* must be 1 or 2"):
        Context(judge_samples=3)


def test_two_agreeing_judge_failures_do_not_quarantine_as_ground_truth_does(memory):
    agreed = {**JUDGE, "confidence": JUDGE_HIGH, "samples": 2, "agreed": True}
    assert judged_failures_until_quarantine(memory, agreed) == 4  # ground truth: 3


def test_disagreeing_judge_failures_alone_never_quarantine(memory):
    split = {**JUDGE, "confidence": JUDGE_DISAGREED, "samples": 2, "agreed": False}
    assert judged_failures_until_quarantine(memory, split) == 10  # still active after 10 uses
