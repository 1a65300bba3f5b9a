"""The case index: each case's status and reward, in the experience store, beside its usage.

`cases stats` counts cases by status and label, and ranks them by usefulness. Chroma answers a filtered
get at ~3 us per id it returns (0.12 s for 33k of 100k cases), so counting there costs several tenths of
a second at 100k; here it is one grouped scan, and ranking one ordered join with `case_usage`.

The index is written with the bank (`indexed_cases.IndexedCases` mirrors every write). It is rebuilt from
the bank, one read of every case's metadata, when the two hold different numbers of cases: a store made
before the index existed, or cases written by a process that shares the bank but not this store.
`cases stats --recount` rebuilds it on demand (a crash between a bank write and its index write).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from memento_graph.memory import lifecycle as lc

if TYPE_CHECKING:
    from memento_graph.memory.case_store import CaseStore
    from memento_graph.memory.experience import ExperienceStore

_BATCH = 500
_SHOWN = (
    "from case_usage u join case_index c on c.case_id = u.case_id "
    'where c.bank = ? and u."user" = ? and u.shown > 0'
)


def bank_key(user: str, embedder_id: str) -> str:
    """Return the index's name for the bank of one user under one embedder."""
    return f"{user}\x1f{embedder_id}"


class CaseIndex:
    """The status and reward of every case of one bank, in the experience store."""

    def __init__(self, store: ExperienceStore, bank: str, user: str) -> None:
        self.store, self.bank, self.user = store, bank, user

    # -- writes (with the bank's) ----------------------------------------------------------------------
    def put(self, rows: Iterable[tuple[str, str, float]]) -> None:
        """Insert or replace (case id, status, reward) rows."""
        sql = (
            "insert into case_index (bank, case_id, status, reward) values (?, ?, ?, ?) "
            "on conflict (bank, case_id) do update set status = excluded.status, "
            "reward = excluded.reward"
        )
        self._many(sql, [(self.bank, i, s, float(r)) for i, s, r in rows])

    def change(self, ids: Sequence[str], status: str | None, reward: float | None) -> None:
        """Set the status and/or reward of these cases (None: unchanged)."""
        sets = {"status": status, "reward": None if reward is None else float(reward)}
        named = {k: v for k, v in sets.items() if v is not None}
        if named:
            sql = f"update case_index set {', '.join(f'{k} = ?' for k in named)} "
            sql += "where bank = ? and case_id = ?"
            self._many(sql, [(*named.values(), self.bank, i) for i in ids])

    def drop(self, ids: Sequence[str]) -> None:
        """Forget these cases."""
        self._many(
            "delete from case_index where bank = ? and case_id = ?", [(self.bank, i) for i in ids]
        )

    def _many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        with self.store.db.write() as conn:
            for start in range(0, len(rows), _BATCH):
                conn.executemany(sql, rows[start : start + _BATCH])

    # -- upkeep ----------------------------------------------------------------------------------------
    def size(self) -> int:
        """Return how many cases the index holds."""
        with self.store.db.read() as conn:
            row = conn.execute(
                "select count(*) from case_index where bank = ?", [self.bank]
            ).fetchone()
        return int(row[0])

    def ensure(self, cases: CaseStore, recount: bool = False) -> bool:
        """Rebuild the index from the bank when their sizes differ (or `recount`); True if rebuilt."""
        if not recount and self.size() == cases.count():
            return False
        with cases.exclusive():
            meta = cases.metadata()
            with self.store.db.write() as conn:
                conn.execute("delete from case_index where bank = ?", [self.bank])
                self.put(
                    (i, m.get("status") or "active", m.get("reward", 0.0)) for i, m in meta.items()
                )
        return True

    # -- reads -----------------------------------------------------------------------------------------
    def tally(self) -> dict[tuple[str, bool], tuple[int, float]]:
        """Return {(status, negative): (cases, sum of rewards)}; negative: reward below 0.5."""
        sql = (  # (status, reward) pairs are few: one pass over an index, folded here
            "select status, reward, count(*) from case_index where bank = ? group by status, reward"
        )
        with self.store.db.read() as conn:
            rows = conn.execute(sql, [self.bank]).fetchall()
        out: dict[tuple[str, bool], tuple[int, float]] = {}
        for status, reward, n in rows:
            key = (str(status), float(reward) < 0.5)
            cases, total = out.get(key, (0, 0.0))
            out[key] = (cases + int(n), total + float(reward) * int(n))
        return out

    def judged(self) -> np.ndarray:
        """Return (credited uses, credited successes) of the active positive cases judged by use."""
        sql = (
            f"select u.credit, u.successes {_SHOWN} and u.credit >= ? "
            "and c.status = 'active' and c.reward >= 0.5"
        )
        with self.store.db.read() as conn:
            rows = conn.execute(sql, [self.bank, self.user, lc.MIN_CREDIT]).fetchall()
        return np.array(rows, dtype=float).reshape(len(rows), 2)

    def ranked(self, top: int, best: bool) -> list[tuple[str, dict[str, Any]]]:
        """Return the `top` most (or least) useful cases ever shown, as (id, usage), in order.

        A case's usefulness lies between its values at reward 0 and 1, known from its usage alone:
        usage rows are taken in order of the bound that could rank them first, and joined with the
        index (for the reward) only until no row left out could rank.
        """
        order, reward = ("desc", 1.0) if best else ("asc", 0.0)
        bound = f"(successes + {0.5 + reward}) / (credit + 2.0)"  # lifecycle.usefulness_of
        sql = (
            f"select u.case_id, u.shown, u.rewards / u.shown, u.credit, u.successes, {bound}, c.reward "
            'from (select * from case_usage where "user" = ? and shown > 0 '
            f"order by {bound} {order}, case_id limit ?) u "
            "left join case_index c on c.bank = ? and c.case_id = u.case_id"
        )
        sign = -1.0 if best else 1.0
        keys = ("times_retrieved", "mean_reward", "credit_uses", "credit_successes")
        want = max(4 * top, 64)
        while top > 0:
            with self.store.db.read() as conn:
                rows = conn.execute(sql, [self.user, want + 1, self.bank]).fetchall()
            found = sorted(
                (sign * lc.usefulness_of(r[6], r[4], r[3]), r[0], r[1:5])
                for r in rows[:want]
                if r[6] is not None  # a deleted case is left out
            )
            last = rows[want][5] * sign if len(rows) > want else None
            if last is None or (len(found) >= top and found[top - 1][0] < last):
                return [(i, dict(zip(keys, map(float, u), strict=True))) for _, i, u in found[:top]]
            want *= 4
        return []
