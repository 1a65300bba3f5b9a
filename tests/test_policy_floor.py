"""The learned policy's floor (a positive case whose record says it does worse is not shown) and the
outcome of the episode that wrote a case counted in its record."""

from __future__ import annotations

import numpy as np

from memento_graph.memory.policy import LearnedPolicy

TRUTH = {"source": "ground_truth"}
RECORD_FAILS = {"credit_uses": 8.0, "credit_successes": 1.0}  # followed 8 times, won once
NO_RECORD = {"credit_uses": 0.0, "credit_successes": 0.0}


def case(name: str, reward: float = 1.0, judge: dict | None = None) -> dict:
    vec = np.zeros(4)
    vec[0] = 1.0
    return {"id": name, "embedding": vec, "similarity": 0.9, "reward": reward,
            "judge": judge or TRUTH}  # fmt: skip


def select(cases, usage, baseline=None, trial=None) -> list[str]:
    policy = LearnedPolicy(4, exploration="greedy")
    task = np.array([1.0, 0.0, 0.0, 0.0])
    return [c["id"] for c in policy.select(task, cases, usage, 4, trial, baseline=baseline)]


def test_a_positive_case_that_keeps_failing_is_not_shown_against_its_peers():
    cases, usage = [case("fails"), case("fresh")], [RECORD_FAILS, NO_RECORD]
    assert select(cases, usage) == ["fresh", "fails"]  # no peers' level: ranked, not hidden
    assert select(cases, usage, baseline=0.8) == ["fresh"]  # expected below 0.75 x 0.8
    assert select(cases, usage, baseline=0.2) == ["fresh", "fails"]  # peers fail too: kept
    assert select([case("fails")], [RECORD_FAILS], baseline=0.8) == []  # none beats a bad one


def test_negative_cases_and_cases_on_trial_are_never_hidden():
    cases = [case("avoid", reward=0.0), case("trial"), case("fresh")]
    usage = [RECORD_FAILS, RECORD_FAILS, NO_RECORD]
    shown = select(cases, usage, baseline=0.8, trial=[False, True, False])
    assert set(shown) == {"avoid", "trial", "fresh"}


def test_the_writing_episode_counts_by_its_confidence():
    policy = LearnedPolicy(4, exploration="greedy")
    task = np.array([1.0, 0.0, 0.0, 0.0])
    sure, judged = case("sure"), case("judged", judge={"source": "llm_judge", "confidence": "low"})
    failed = case("failed", reward=0.0)
    scores = {
        c["id"]: c["score"] for c in policy.select(task, [sure, judged, failed], [NO_RECORD] * 3, 3)
    }
    # the same prior: a certain success lifts a case more than a low-confidence one
    assert scores["sure"] > scores["judged"] > 0.5 > scores["failed"]
