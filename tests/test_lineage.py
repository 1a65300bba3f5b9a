"""Lineage: a case written by following another carries its plan, and is judged with its lineage."""

from __future__ import annotations

import json

from fixtures.episodes import finish
from memento_graph.memory import lifecycle
from memento_graph.memory.lineage import kin_of, pooled_usage
from memento_graph.settings import SETTINGS


def plan(*steps: str) -> str:
    return json.dumps({"plan": [{"id": i, "description": s} for i, s in enumerate(steps, 1)]})


GOOD = plan("search the official census table for the population")
GOOD_REWORDED = plan("search the official census tables for the number of inhabitants")  # 0.89
BAD = plan("guess a round number from memory without searching")
BAD_REWORDED = plan("guess a round figure from memory, do not search")  # 0.79 to BAD
OWN = plan("phone the town hall and ask the clerk")  # like neither (0.23, 0.10)


def shown_as(*cases) -> list[dict]:
    return [{"id": c["id"], "rank": r, "score": 1 - r / 10} for r, c in enumerate(cases, start=1)]


def peers_do_well(memory, n: int = 8) -> None:
    for i in range(n):
        finish(memory, f"g{i}", f"What is the area of lake number {i}?", plan=f"measure lake {i}")


def test_a_case_written_by_following_a_shown_case_records_it(memory):
    good = finish(memory, "t1", "What is the population of Oslo?", plan=GOOD)
    bad = finish(memory, "t2", "What is the population of Bergen?", plan=BAD)
    shown = shown_as(good, bad)
    child = finish(memory, "t3", "How many people live in Trondheim?", 1.0, shown,
                   plan=GOOD_REWORDED, attribution={"followed": [good["id"]]})  # fmt: skip
    assert child["derived_from"] == good["id"] and child["derived_similarity"] > 0.8
    assert memory.get_case(good["id"])["descendants"].split() == [child["id"]]
    own = finish(memory, "t4", "How many people live in Tromso?", 1.0, shown, plan=OWN,
                 attribution={"followed": [good["id"]]})  # fmt: skip
    assert "derived_from" not in own  # named, but its plan is not the case's: no lineage
    assert memory.get_case(bad["id"]).get("descendants") is None


def test_failures_spread_over_paraphrases_are_judged_together(memory):
    peers_do_well(memory, 20)
    bad = finish(memory, "b0", "What is the population of Bergen?", plan=BAD)
    # a lucky win rewords the bad plan into a positive case of its own
    lucky = finish(memory, "b1", "How many people live in Molde?", 1.0, shown_as(bad),
                   plan=BAD_REWORDED, attribution={"followed": [bad["id"]]})  # fmt: skip
    assert lucky["derived_from"] == bad["id"]
    # the plan then fails three times, once as reworded, twice as written
    finish(memory, "f0", "How many people live in town 0?", 0.0, shown_as(lucky), plan=BAD_REWORDED)
    finish(memory, "f1", "How many people live in town 1?", 0.0, shown_as(bad), plan=BAD)
    finish(memory, "f2", "How many people live in town 2?", 0.0, shown_as(bad), plan=BAD)
    baseline = memory.store.mean_reward(memory.user)
    for case in (bad, lucky):  # neither case's own record is surely worse ...
        own = memory.get_case(case["id"])["usage"]
        assert lifecycle.p_worse(own, baseline) < SETTINGS.quarantine_confidence
    for case in (bad, lucky):  # ... the plan's record is: both are quarantined
        case = memory.get_case(case["id"])
        assert case["status"] == "quarantined" and "lineage" in case["status_reason"]


def test_an_untested_copy_of_a_quarantined_case_goes_with_it_an_example_to_avoid_stays(memory):
    peers_do_well(memory)
    bad = finish(memory, "b0", "What is the population of Bergen?", plan=BAD)
    copy = finish(memory, "c0", "How many people live in Molde?", 1.0, shown_as(bad), plan=BAD,
                  attribution={"followed": [bad["id"]]})  # fmt: skip
    avoid = finish(memory, "a0", "How many people live in Alta?", 0.0, shown_as(bad),
                   plan=BAD_REWORDED, attribution={"followed": [bad["id"]]})  # fmt: skip
    assert copy["derived_from"] == avoid["derived_from"] == bad["id"]
    failures = 0
    while memory.get_case(bad["id"])["status"] == "active" and failures < 6:
        failures += 1  # the original is followed and fails
        finish(memory, f"f{failures}", f"How many people live in town {failures}?", 0.0,
               shown_as(bad), plan=BAD)  # fmt: skip
    assert memory.get_case(bad["id"])["status"] == "quarantined"
    assert memory.get_case(copy["id"])["usage"]["credit_uses"] == 0
    assert memory.get_case(copy["id"])["status"] == "quarantined"  # the same plan, no record
    assert memory.get_case(avoid["id"])["status"] == "active"  # it says the plan fails: it does


class FakeBank:
    def __init__(self, cases: list[dict]) -> None:
        self.cases = {c["id"]: c for c in cases}

    def get(self, ids, embeddings=False):
        return [self.cases[i] for i in ids if i in self.cases]


class FakeStore:
    def __init__(self, usage: dict[str, dict]) -> None:
        self.records = usage

    def usage(self, ids):
        return {i: self.records.get(i, record(0, 0)) for i in ids}


def record(uses: float, wins: float) -> dict:
    return {"credit_uses": uses, "credit_successes": wins, "times_retrieved": int(uses)}


def test_pooled_records_weigh_paraphrases_by_kinship_and_never_count_a_copy_twice():
    cases = [
        {"id": "x", "reward": 1.0, "descendants": "para copy moved avoid gone"},
        {"id": "para", "reward": 1.0, "derived_from": "x", "derived_similarity": 0.75},
        {"id": "copy", "reward": 1.0, "derived_from": "x", "derived_similarity": 0.99},
        {"id": "moved", "reward": 1.0, "derived_from": "other", "derived_similarity": 0.9},
        {"id": "avoid", "reward": 0.0, "derived_from": "x", "derived_similarity": 0.75},
    ]  # moved: its plan was rewritten from another case since
    store = FakeStore({"x": record(2, 1), "para": record(4, 0), "copy": record(3, 0),
                       "moved": record(9, 0), "avoid": record(1, 0)})  # fmt: skip
    bank = FakeBank(cases)
    ids = ["x", "para", "copy", "avoid"]
    pooled = pooled_usage(bank, store, [bank.cases[i] for i in ids], store.usage(ids))
    kin = kin_of(0.75)
    # x: its own 1 of 2, the paraphrases' 0 of 4 and 0 of 1 by kinship, the copy's one use beyond
    # x's own; not the record of a case since rewritten from another
    assert abs(pooled["x"]["credit_uses"] - (2 + 5 * kin + 1)) < 1e-9
    assert abs(pooled["x"]["credit_successes"] - 1) < 1e-9
    # the paraphrase: its own plus its parent's by kinship; the copy: nothing beyond its own 3
    assert abs(pooled["para"]["credit_uses"] - (4 + 2 * kin)) < 1e-9
    assert pooled["copy"]["credit_uses"] == 3
    assert pooled["avoid"]["credit_uses"] == 1  # an example to avoid: its own record only
    assert kin_of(0.42) < 0.01 < 0.5 < kin_of(0.75)
