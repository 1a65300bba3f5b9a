"""The case index keeps `cases stats` exact through every kind of write, in SQLite and PostgreSQL.

`reference` computes the statistics the slow way (every case read from the bank, every case's usage
and lifecycle verdict in Python); the index's grouped SQL must agree after writes, retirements,
quarantines, feedback and deletions, after an index is lost (a store made before it existed), and,
with `--recount`, after a write that bypassed it.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from fixtures.episodes import finish
from hashed_embedder import HashedEmbedder
from memento_graph.memory import lifecycle as lc
from memento_graph.memory.core import Memory
from memento_graph.memory.stats import case_stats


def reference(memory: Memory, top: int = 5) -> dict:
    """The statistics computed from every case and its usage, without the index."""
    cases = memory.bank.all()
    usage = memory.store.totals(memory.user)
    baseline = memory.store.mean_reward(memory.user, recent=lc.RECENT)
    shown = [c for c in cases if c["id"] in usage]
    useful = sorted((lc.usefulness(c, usage[c["id"]]), c["id"]) for c in shown)
    return {
        "total": len(cases),
        "by_status": dict(Counter(c["status"] for c in cases)),
        "by_label": dict(Counter("negative" if c["reward"] < 0.5 else "positive" for c in cases)),
        "on_trial": sum(
            lc.on_trial(c, usage[c["id"]], baseline) for c in shown if c["status"] == "active"
        ),
        "mean_reward": round(sum(c["reward"] for c in cases) / len(cases), 4),
        "most": [i for _, i in sorted(useful, key=lambda u: (-u[0], u[1]))[:top]],
        "least": [i for _, i in useful[:top]],
    }


def observed(memory: Memory, **kw) -> dict:
    got = case_stats(memory, **kw)
    keys = ("total", "by_status", "by_label", "on_trial", "mean_reward")
    return {key: got[key] for key in keys} | {
        "most": [c["id"] for c in got["most_useful"]],
        "least": [c["id"] for c in got["least_useful"]],
    }


@pytest.fixture(params=["sqlite", "postgres"])
def memory(request, home) -> Memory:
    url = request.getfixturevalue("pg_url")[0] if request.param == "postgres" else ""
    return Memory(home, "someone", HashedEmbedder(), experience_url=url)


def test_stats_from_the_index_match_the_slow_count_through_every_write(memory):
    rng = np.random.default_rng(3)
    for i in range(10):  # seeded cases, a third of them failures
        finish(
            memory, f"s{i}", f"topic {i % 4} question {i}", reward=float(i % 3 != 0), plan=f"p{i}"
        )
    for i in range(30):  # episodes shown cases: usage, credit, some cases on trial
        task = f"topic {i % 4} question {i} again"
        shown = memory.retrieve(task, 3, "similarity")
        finish(memory, f"e{i}", task, reward=float(rng.random() < 0.5), retrieved=shown,
               plan=shown[0]["plan"] if shown else "p")  # fmt: skip
    assert observed(memory) == reference(memory)
    ids = memory.bank.ids()
    lc.set_status(memory.bank, ids[0], "quarantined", "test")
    memory.bank.update_many(ids[1:3], status="retired")
    memory.bank.update(ids[3], reward=0.25)
    assert memory.delete_case(ids[4])
    expected = reference(memory)
    assert expected["by_status"] == {"active": len(ids) - 4, "quarantined": 1, "retired": 2}
    assert observed(memory) == expected


def test_a_lost_index_is_rebuilt_and_recount_repairs_a_bypassing_write(memory):
    for i in range(6):
        finish(memory, f"s{i}", f"question {i}", reward=float(i % 2))
    expected = reference(memory)
    with memory.store.db.write() as conn:  # a store made before the index existed
        conn.execute("delete from case_index")
    assert memory.index.size() == 0
    assert observed(memory) == expected and memory.index.size() == 6
    inner = memory.bank.cases  # a write that bypasses the index (another store's writer)
    inner.update(inner.ids()[0], status="retired")
    assert observed(memory)["by_status"] == {"active": 6}  # the sizes agree: not noticed
    assert observed(memory, recount=True)["by_status"] == {"active": 5, "retired": 1}


@pytest.mark.parametrize("top", [3, 20, 100])
def test_ranking_widens_until_no_case_left_out_could_rank(memory, top):
    rng = np.random.default_rng(top)
    cases = [{"id": f"c{i:03d}", "task": f"task {i}", "plan": "p", "status": "active", "judge": {},
              "reward": float(rng.choice([0.0, 0.5, 1.0])), "provenance": {}} for i in range(300)]  # fmt: skip
    memory.bank.upsert(cases, memory.embed([c["task"] for c in cases]))
    rows = [(f"t{j}", f"c{int(rng.integers(300)):03d}", memory.user, 1,
             float(rng.random() < 0.6), float(rng.random() < 0.5)) for j in range(1500)]  # fmt: skip
    with memory.store.db.write() as conn:  # usage written straight, as many episodes would
        conn.executemany(
            'insert into retrievals (thread_id, case_id, "user", rank, credit, reward) '
            "values (?, ?, ?, ?, ?, ?) on conflict do nothing",
            rows,
        )
    assert memory.delete_case("c000")  # a deleted case's usage stays, and is left out
    expected = reference(memory, top)
    assert [i for i, _ in memory.index.ranked(top, best=True)] == expected["most"]
    assert [i for i, _ in memory.index.ranked(top, best=False)] == expected["least"]
