"""The experience store's per-case usage (kept by triggers) agrees with its retrievals, also after upgrades."""

from __future__ import annotations

import sqlite3

from memento_graph.memory.experience import ExperienceStore

RAW = (
    "select r.case_id, count(*), avg(e.reward), total(r.credit), total(r.credit * e.reward) "
    "from retrievals r join episodes e on e.thread_id = r.thread_id where r.user = ? group by r.case_id"
)


def raw(store: ExperienceStore, user: str) -> dict[str, tuple]:
    rows = store.db.execute(RAW, [user]).fetchall()
    return {r[0]: tuple(round(x, 9) for x in r[1:]) for r in rows}


def kept(store: ExperienceStore, user: str) -> dict[str, tuple]:
    ids, table = store.totals_table(user)
    return {i: tuple(round(float(x), 9) for x in row) for i, row in zip(ids, table, strict=True)}


def episode(thread_id: str, reward: float, user: str = "u") -> dict:
    return {"thread_id": thread_id, "user": user, "task": "t", "plan": "p", "reward": reward}


def shown(*pairs: tuple[str, float], user: str = "u") -> list[dict]:
    return [
        {"case_id": c, "user": user, "rank": i, "credit": cr} for i, (c, cr) in enumerate(pairs)
    ]


def test_case_usage_follows_every_write(tmp_path):
    store = ExperienceStore(tmp_path / "x.sqlite")
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


def test_an_old_store_is_upgraded_once(tmp_path):
    path = tmp_path / "old.sqlite"
    store = ExperienceStore(path)
    store.record(episode("t1", 1.0), shown(("a", 1.0), ("b", 0.5)))
    store.db.conn.close()
    with sqlite3.connect(path) as conn:  # as written before the reward copies and case_usage
        for trigger in ("add", "remove", "change"):
            conn.execute(f"drop trigger case_usage_{trigger}")
        conn.execute("drop table case_usage")
        conn.execute("alter table retrievals drop column reward")
    again = ExperienceStore(path)
    assert kept(again, "u") == raw(again, "u") == {"a": (1, 1.0, 1.0, 1.0), "b": (1, 1.0, 0.5, 0.5)}
    assert kept(ExperienceStore(path), "u") == raw(again, "u")  # opened again: not counted twice


def test_episode_count_is_kept_without_recounting(tmp_path):
    store = ExperienceStore(tmp_path / "x.sqlite")
    store.record(episode("t1", 1.0), [])
    assert store.episode_count("u") == 1
    store.record(episode("t2", 0.0), shown(("a", 1.0)))
    store.record(episode("t2", 1.0), [])  # recorded again: not a new episode
    store.record(episode("t3", 1.0, "v"), [])
    assert store.episode_count("u") == 2 and store.episode_count("v") == 1
