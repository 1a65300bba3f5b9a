"""Lifecycle and learning from rewards: credit, quarantine, capacity, rollback, dedupe, feedback."""

from __future__ import annotations

import time

import pytest

from fixtures.episodes import finish
from memento_graph.errors import MementoError
from memento_graph.memory import lifecycle
from memento_graph.memory.core import Memory
from memento_graph.memory.schema import now_iso
from memento_graph.memory.stats import case_stats

GOOD = '{"plan": [{"id": 1, "description": "search the official census table for the population"}]}'
BAD = '{"plan": [{"id": 1, "description": "guess a round number from memory without searching"}]}'


def credits(mem, thread_id: str) -> dict[str, float]:
    return {r["case_id"]: r["credit"] for r in mem.episode(thread_id)["retrieved"]}


def shown_as(*cases) -> list[dict]:
    """Return the cases as retrieved, in this order (rank 1 first)."""
    return [{"id": c["id"], "rank": r, "score": 1 - r / 10} for r, c in enumerate(cases, start=1)]


def on_trial(mem, case) -> bool:
    case = mem.get_case(case["id"])
    return lifecycle.on_trial(case, case["usage"], mem.store.mean_reward(mem.user))


def test_credit_goes_to_the_case_whose_plan_was_followed(memory):  # noqa: F811
    good = finish(memory, "t1", "What is the population of Oslo?", plan=GOOD)
    bad = finish(memory, "t2", "What is the population of Bergen?", plan=BAD)
    shown = memory.retrieve("What is the population of Trondheim?", 4, "similarity")
    assert {s["id"] for s in shown} == {good["id"], bad["id"]}
    finish(
        memory, "t3", "What is the population of Trondheim?", reward=0.0, retrieved=shown, plan=BAD
    )
    credit = credits(memory, "t3")
    assert credit[bad["id"]] > 0.9 > 0.1 > credit[good["id"]]  # not one label shared by both


def test_a_plan_that_follows_no_shown_case_credits_none_of_them(memory):  # noqa: F811
    finish(memory, "t1", "What is the population of Oslo?", plan=GOOD)
    finish(memory, "t2", "What is the population of Bergen?", plan=BAD)
    shown = memory.retrieve("What is the population of Trondheim?", 4, "similarity")
    own = '{"plan": [{"id": 1, "description": "phone the town hall and ask the clerk"}]}'
    finish(memory, "t3", "What is the population of Trondheim?", 1.0, shown, plan=own)
    credit = credits(memory, "t3")
    assert len(credit) == 2 and all(c < 0.1 for c in credit.values())  # no praise for the unused


def test_thin_evidence_never_quarantines_a_case(memory):  # noqa: F811
    for i in range(20):  # the peers do very well
        finish(memory, f"g{i}", f"What is the area of lake number {i}?", plan=f"measure lake {i}")
    unlucky = finish(memory, "u0", "What is the population of Oslo?", plan=GOOD)
    unused = finish(memory, "n0", "What is the population of Bergen?", plan=BAD)
    shown = shown_as(unlucky, unused)
    finish(memory, "t1", "How many people live in town 1?", 0.0, shown, plan=GOOD)  # one failure
    for i in (2, 3, 4):  # shown again, the plans are the planner's own
        own = f'{{"plan": [{{"id": 1, "description": "count the houses of town {i}"}}]}}'
        finish(memory, f"t{i}", f"How many people live in town {i}?", 1.0, shown, plan=own)
    assert memory.get_case(unlucky["id"])["status"] == "active"  # one failure is bad luck
    assert memory.get_case(unused["id"])["status"] == "active"  # never followed: never judged


def test_a_case_no_longer_shown_is_quarantined_when_its_peers_improve(memory):  # noqa: F811
    bad = finish(memory, "b0", "What is the population of Bergen?", plan=BAD)
    good = finish(memory, "g0", "What is the population of Oslo?", plan=GOOD)
    for i in range(6):  # early on, most episodes fail
        finish(memory, f"f{i}", f"What is the area of lake number {i}?", 0.0, plan=f"lake {i}")
    shown = shown_as(bad, good)
    for i, won in enumerate((1.0, 0.0, 0.0, 0.0, 0.0)):  # followed: one success, four failures
        finish(memory, f"u{i}", f"How many people live in town {i}?", won, shown, plan=BAD)
    assert memory.get_case(bad["id"])["status"] == "active"  # no worse than its failing peers
    for i in range(36):  # the peers get better; the bad case is never shown again
        finish(memory, f"s{i}", f"What is the depth of river number {i}?", plan=f"river {i}")
    case = memory.get_case(bad["id"])
    assert case["status"] == "quarantined" and "auto" in case["status_reason"]
    assert case["usage"]["times_retrieved"] == 5
    assert memory.get_case(good["id"])["status"] == "active"  # shown as often, never followed


def test_a_case_whose_episodes_go_much_worse_is_quarantined(memory):  # noqa: F811
    good = finish(memory, "g0", "What is the population of Oslo?", plan=GOOD)
    poison = finish(memory, "p0", "What is the population of Bergen?", plan=BAD)
    for i in range(6):  # peers do well
        finish(
            memory, f"g{i + 1}", f"What is the area of lake number {i}?", plan=f"measure lake {i}"
        )
    shown = shown_as(poison, good)
    uses = 0
    while memory.get_case(poison["id"])["status"] == "active" and uses < 10:
        uses += 1  # the planner follows the bad plan and fails
        finish(memory, f"p{uses}", f"How many people live in town {uses}?", 0.0, shown, plan=BAD)
    case = memory.get_case(poison["id"])
    assert case["status"] == "quarantined" and uses == 3  # two failures are bad luck, three are not
    assert "auto" in case["status_reason"]
    assert memory.get_case(good["id"])["status"] == "active"
    assert poison["id"] not in [
        h["id"] for h in memory.retrieve("population of Bergen", 4, "learned")
    ]
    lifecycle.set_status(memory.bank, poison["id"], "active", "restored")
    assert memory.retrieve("population of Bergen", 1, "similarity")[0]["id"] == poison["id"]


def test_a_case_that_failed_once_is_tried_first_until_its_verdict(memory):  # noqa: F811
    for i in range(6):  # peers do well
        finish(memory, f"g{i}", f"What is the area of lake number {i}?", plan=f"measure lake {i}")
    good = finish(memory, "o0", "What is the population of Oslo?", plan=GOOD)
    doubtful = finish(memory, "b0", "What is the population of Bergen?", plan=BAD)
    shown = shown_as(good, doubtful)
    for i in range(4):  # the good plan is proven
        finish(memory, f"w{i}", f"How many people live in city {i}?", 1.0, shown, plan=GOOD)
    shown = shown_as(doubtful, good)
    finish(memory, "f0", "How many people live in town 0?", 0.0, shown, plan=BAD)
    avoid = finish(memory, "n0", "What is the population of Molde?", 0.0, plan=BAD)  # negative
    finish(memory, "f9", "How many people live in town 9?", 0.0, [{"id": avoid["id"]}], plan=BAD)
    assert on_trial(memory, doubtful) and not on_trial(memory, good)
    assert not on_trial(memory, avoid)  # an example to avoid is not put to the test
    assert case_stats(memory)["on_trial"] == 1
    firsts = {memory.retrieve("population of Bergen", 2, "learned")[0]["id"] for _ in range(10)}
    assert firsts == {doubtful["id"]}  # a failed claim is tested next, not dropped unseen
    for i in (1, 2):  # it works on trial: the failure was bad luck, the case is cleared
        finish(memory, f"f{i}", f"How many people live in town {i}?", 1.0, shown, plan=BAD)
    assert not on_trial(memory, doubtful)
    assert memory.get_case(doubtful["id"])["status"] == "active"


def test_capacity_retires_the_least_useful(home, memory):  # noqa: F811
    small = Memory(home, "small", memory.embedder, max_cases=3)
    for i, reward in enumerate([1.0, 0.0, 1.0, 0.0, 1.0]):
        finish(small, f"t{i}", f"Which country borders country number {i * 7}?", reward=reward)
    assert len(small.list_cases(status="active")) == 3
    retired = small.list_cases(status="retired")
    assert len(retired) == 2 and all(c["reward"] == 0.0 for c in retired)
    assert all("capacity" in c["status_reason"] for c in retired)


def test_capacity_counts_active_cases_and_retires_in_one_batch(home):
    from hashed_embedder import HashedEmbedder

    memory = Memory(home, "full", HashedEmbedder(), max_cases=40)
    bank, store, embed = memory.bank, memory.store, memory.embedder.embed
    cases = [{"id": f"c{i:02d}", "task": f"task {i}", "plan": "p", "reward": float(i >= 12),
              "status": "retired" if i >= 50 else "active", "judge": {},
              "provenance": {"created_at": f"2025-01-01T00:00:{i:02d}"}} for i in range(60)]  # fmt: skip
    bank.upsert(cases[:40] + cases[50:], embed([c["task"] for c in cases[:40] + cases[50:]]))
    assert lifecycle.enforce_capacity(bank, store, 40) == []  # 50 cases, but 40 active
    bank.upsert(cases[40:50], embed([c["task"] for c in cases[40:50]]))
    victims = lifecycle.enforce_capacity(bank, store, 40)  # 50 active: down to 95% of 40 at once
    assert victims == [f"c{i:02d}" for i in range(12)]  # the reward-0 ones, oldest first
    assert all("capacity" in c["status_reason"] for c in bank.get(victims))
    assert len(bank.ids(**lifecycle.ACTIVE)) == 38
    bank.upsert(cases[:2], embed(["task 0", "task 1"]))  # restored: 40 active
    assert lifecycle.enforce_capacity(bank, store, 40) == []


def test_rollback_retires_what_was_written_after_a_time(memory):  # noqa: F811
    old = finish(memory, "t1", "Who wrote Dune?")
    time.sleep(0.01)
    since = now_iso()
    new = finish(memory, "t2", "Who directed Alien?")
    assert lifecycle.rollback(memory.bank, since) == [new["id"]]
    assert memory.get_case(new["id"])["status"] == "retired"
    assert memory.get_case(old["id"])["status"] == "active"
    assert [h["id"] for h in memory.retrieve("Who directed Alien?", 4, "similarity")] == [old["id"]]
    with pytest.raises(MementoError):
        lifecycle.rollback(memory.bank, "last tuesday")


def test_dedupe_keeps_the_better_case(memory):  # noqa: F811
    worse = {"task": "Who painted Guernica?", "plan": "a", "reward": 0.0, "status": "active",
             "judge": {}, "provenance": {"created_at": now_iso()}, "id": "worse"}  # fmt: skip
    better = {**worse, "id": "better", "task": "Who painted Guernica ?", "reward": 1.0}
    memory.bank.upsert([worse, better], memory.embed([worse["task"], better["task"]]))
    assert lifecycle.dedupe(memory.bank, memory.store, 0.95) == [("better", "worse")]
    assert memory.get_case("worse")["status"] == "retired"
    assert memory.get_case("worse")["merged_into"] == "better"


def test_feedback_overrides_the_judge_everywhere(memory):  # noqa: F811
    finish(memory, "t1", "What is the capital of Australia?", plan=GOOD)
    shown = memory.retrieve("What is the capital of Canada?", 4, "learned")
    case = finish(memory, "t2", "What is the capital of Canada?", 1.0, shown, plan=GOOD)
    before = memory.learned_policy(384).weights.copy()
    credit_before = credits(memory, "t2")
    updated = memory.feedback("t2", 0.0, "it is Ottawa, not Toronto")
    assert updated["id"] == case["id"] and updated["reward"] == 0.0
    assert updated["judge"] == {
        "source": "user",
        "model": None,
        "rationale": "it is Ottawa, not Toronto",
    }
    episode = memory.episode("t2")
    assert episode["reward"] == 0.0 and episode["judge_source"] == "user"
    assert (memory.learned_policy(384).weights != before).any()
    assert credits(memory, "t2") != credit_before or len(credit_before) == 1
    assert memory.get_case(shown[0]["id"])["usage"]["rewards"] == [0.0]
    with pytest.raises(MementoError, match="no episode"):
        memory.feedback("nope", 1.0)
    with pytest.raises(MementoError):
        memory.feedback("t2", 7)
