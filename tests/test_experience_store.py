"""The experience store on SQLite and PostgreSQL: per-case usage (kept by triggers) agrees with its
retrievals, also after upgrades; concurrent writers lose nothing; policy states are versioned."""

from __future__ import annotations

import sqlite3
import threading

import numpy as np
import pytest

from memento_graph.memory.experience import ExperienceStore

RAW = (
    "select r.case_id, count(*), avg(e.reward), coalesce(sum(r.credit), 0), "
    "coalesce(sum(r.credit * e.reward), 0) from retrievals r join episodes e "
    'on e.thread_id = r.thread_id where r."user" = ? group by r.case_id'
)


@pytest.fixture(params=["sqlite", "postgresql"])
def open_store(request, tmp_path):
    """Return a function opening the store (each call: new connections, as another process would)."""
    if request.param == "sqlite":
        opened = []
        yield lambda: opened.append(ExperienceStore(tmp_path / "x.sqlite")) or opened[-1]
    else:
        url, _ = request.getfixturevalue("pg_url")
        opened = []
        yield lambda: opened.append(ExperienceStore(url=url)) or opened[-1]
    for store in opened:
        store.db.close()


def raw(store: ExperienceStore, user: str) -> dict[str, tuple]:
    with store.db.read() as conn:
        rows = conn.execute(RAW, [user]).fetchall()
    return {r[0]: tuple(round(float(x), 9) for x in r[1:]) for r in rows}


def kept(store: ExperienceStore, user: str) -> dict[str, tuple]:
    ids, table = store.totals_table(user)
    return {i: tuple(round(float(x), 9) for x in row) for i, row in zip(ids, table, strict=True)}


def episode(thread_id: str, reward: float, user: str = "u") -> dict:
    return {"thread_id": thread_id, "user": user, "task": "t", "plan": "p", "reward": reward}


def shown(*pairs: tuple[str, float], user: str = "u") -> list[dict]:
    return [
        {"case_id": c, "user": user, "rank": i, "credit": cr} for i, (c, cr) in enumerate(pairs)
    ]


def test_case_usage_follows_every_write(open_store):
    store = open_store()
    store.record(episode("t1", 1.0), shown(("a", 1.0), ("b", 0.0)))
    store.record(episode("t2", 0.0), shown(("a", 0.5), ("c", 0.5)))
    store.record(episode("t3", 1.0, "v"), shown(("a", 1.0), user="v"))
    assert kept(store, "u") == raw(store, "u") and set(kept(store, "u")) == {"a", "b", "c"}
    store.record(episode("t2", 1.0), shown(("a", 0.25)))  # re-recorded: c is gone, a changes
    store.set_credits("t1", {"a": 0.0, "b": 1.0})
    store.update_episode("t1", reward=0.0)  # feedback
    assert kept(store, "u") == raw(store, "u") and set(kept(store, "u")) == {"a", "b"}
    assert store.totals("u")["b"] == {
        "times_retrieved": 1, "mean_reward": 0.0, "credit_uses": 1.0, "credit_successes": 0.0,
    }  # fmt: skip
    assert store.suspects("u", 0.5, 0.5) == ["b"] and kept(store, "v") == raw(store, "v")
    assert sorted(store.usage(["a", "z"])["a"]["rewards"]) == [0.0, 1.0, 1.0]  # all users
    assert store.usage(["z"])["z"]["times_retrieved"] == 0
    assert store.mean_reward("u") == 0.5 and store.mean_reward("nobody") is None
    assert store.episode_count("u") == 2


def test_an_episode_reads_back_as_recorded(open_store):
    store = open_store()
    vec = np.arange(4, dtype=np.float32)
    store.record(
        {**episode("t1", 1.0), "models": {"planner": "m"}, "task_embedding": vec, "answer": None},
        shown(("b", 0.25), ("a", 0.75)),
    )
    store.update_episode("t1", note="good", judge_source="user")
    back = open_store().episode("t1")  # another connection (process)
    assert back["models"] == {"planner": "m"} and back["tokens"] == {} and back["answer"] is None
    assert back["note"] == "good" and back["judge_source"] == "user" and back["task"] == "t"
    assert np.array_equal(back["task_embedding"], vec)
    assert [(r["case_id"], r["credit"], r["reward"]) for r in back["retrieved"]] == [
        ("b", 0.25, 1.0),
        ("a", 0.75, 1.0),
    ]
    assert store.episode("nope") is None


def test_an_old_sqlite_store_is_upgraded_once(tmp_path):
    path = tmp_path / "old.sqlite"
    store = ExperienceStore(path)
    store.record(episode("t1", 1.0), shown(("a", 1.0), ("b", 0.5)))
    store.save_state("k", {"weights": np.ones(3), "updates": np.array([7])})
    store.db.close()
    with sqlite3.connect(path) as conn:  # as written before the reward copies, case_usage, versions
        for trigger in ("add", "remove", "change"):
            conn.execute(f"drop trigger case_usage_{trigger}")
        conn.execute("drop table case_usage")
        conn.execute("alter table retrievals drop column reward")
        conn.execute("alter table policy_state drop column version")
    again = ExperienceStore(path)
    assert kept(again, "u") == raw(again, "u") == {"a": (1, 1.0, 1.0, 1.0), "b": (1, 1.0, 0.5, 0.5)}
    assert kept(ExperienceStore(path), "u") == raw(again, "u")  # opened again: not counted twice
    version, state = again.load_versioned("k")
    assert version == 0 and state["updates"][0] == 7 and again.save_state("k", state) == 1


def test_episode_count_is_kept_without_recounting(open_store):
    store = open_store()
    store.record(episode("t1", 1.0), [])
    assert store.episode_count("u") == 1
    store.record(episode("t2", 0.0), shown(("a", 1.0)))
    store.record(episode("t2", 1.0), [])  # recorded again: not a new episode
    store.record(episode("t3", 1.0, "v"), [])
    assert store.episode_count("u") == 2 and store.episode_count("v") == 1


def test_two_writers_at_once_lose_nothing(open_store):
    stores = [open_store(), open_store()]  # two connections, as two processes have
    cases = ["a", "b", "c", "d", "e"]
    start = threading.Barrier(2)
    errors = []

    def write(n: int) -> None:
        store = stores[n]
        try:
            start.wait()
            for i in range(30):
                tid = f"w{n}-{i}"
                picked = [cases[(i + j + n) % 5] for j in range(3)]
                store.record(episode(tid, float(i % 2)), shown(*((c, 1 / 3) for c in picked)))
                store.set_credits(tid, {picked[0]: 1.0})
                with store.hold_state("counter") as held:  # a read-modify-write of both
                    count = held.arrays()["updates"][0] if held.version else 0
                    held.save({"weights": np.zeros(1), "updates": np.array([count + 1])})
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    check = open_store()
    assert check.episode_count("u") == 60
    usage = kept(check, "u")
    assert usage == raw(check, "u") and sum(u[0] for u in usage.values()) == 180
    version, state = check.load_versioned("counter")
    assert version == 60 and state["updates"][0] == 60  # no step overwrote another


def test_policy_state_versions(open_store):
    first, second = open_store(), open_store()
    state = {"weights": np.array([0.5, 1.5]), "updates": np.array([1])}
    assert first.state_version("p") == 0 and first.load_versioned("p") == (0, None)
    assert first.save_state("p", state) == 1
    assert second.state_version("p") == 1  # the other process sees the new version
    with pytest.raises(RuntimeError), second.hold_state("p") as held:
        assert held.version == 1 and np.array_equal(held.arrays()["weights"], [0.5, 1.5])
        held.save({"weights": np.array([9.0, 9.0]), "updates": np.array([2])})
        raise RuntimeError("the learning step failed")
    version, kept_state = first.load_versioned("p")  # a failed block saved nothing
    assert version == 1 and np.array_equal(kept_state["weights"], [0.5, 1.5])
    with second.hold_state("p") as held:
        assert held.save({"weights": np.array([2.0, 2.0]), "updates": np.array([2])}) == 2
    assert first.state_version("p") == 2 and first.load_state("p")["updates"][0] == 2
