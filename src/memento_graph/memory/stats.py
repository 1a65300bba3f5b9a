"""Case-bank statistics: counts by status and label, and the most and least useful cases.

Nothing here reads the whole bank: counts come from id-only Chroma gets, usage from one SQL aggregate
over the user's retrievals, and only the cases that can rank (or be on trial) are read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from memento_graph.memory import lifecycle as lc

if TYPE_CHECKING:
    from memento_graph.memory.case_bank import CaseBank
    from memento_graph.memory.core import Memory

_READ = 256  # cases read at a time while ranking


def case_stats(memory: Memory, top: int = 5) -> dict[str, Any]:
    """Return counts by status and label, cases on trial, mean reward, and the most and least useful."""
    bank, store = memory.bank, memory.store
    total = bank.count()
    usage = store.totals(memory.user)
    baseline = store.mean_reward(memory.user, recent=lc.RECENT)
    return {
        "user": memory.user,
        "embedder": memory.embedder.id,
        "total": total,
        "by_status": _by_status(bank, total),
        "by_label": _nonzero(
            positive=(up := len(bank.ids({"reward": {"$gte": 0.5}}))), negative=total - up
        ),  # fmt: skip
        "on_trial": _on_trial(bank, usage, baseline),
        "mean_reward": round(_reward_sum(bank) / total, 4) if total else None,
        "episodes_mean_reward": store.mean_reward(memory.user, recent=10**9),
        "most_useful": _ranked(bank, usage, top, best=True),
        "least_useful": _ranked(bank, usage, top, best=False),
    }


def _nonzero(**counts: int) -> dict[str, int]:
    return {key: n for key, n in counts.items() if n}


def _by_status(bank: CaseBank, total: int) -> dict[str, int]:
    other = {s: len(bank.ids({"status": s})) for s in ("quarantined", "retired")}
    return _nonzero(active=total - sum(other.values()), **other)


def _reward_sum(bank: CaseBank) -> float:
    """Sum the cases' rewards: rewards of 1 are counted, only fractional ones (rare) are read."""
    ones = len(bank.ids({"reward": {"$gte": 1.0}}))
    between = bank.metadata({"$and": [{"reward": {"$gt": 0.0}}, {"reward": {"$lt": 1.0}}]})
    return ones + sum(float(m.get("reward") or 0.0) for m in between.values())


def _on_trial(bank: CaseBank, usage: dict[str, dict], baseline: float | None) -> int:
    """Count active cases on trial: only cases whose record alone puts them on trial are read."""
    if baseline is None or not 0 < baseline < 1:
        return 0
    maybe = [
        c for c, u in usage.items()
        if u["credit_uses"] >= lc.MIN_CREDIT and lc.TRIAL <= lc.p_worse(u, baseline) < lc.CONFIDENCE
    ]  # fmt: skip
    cases = bank.get(maybe)
    return sum(c["status"] == "active" and lc.on_trial(c, usage[c["id"]], baseline) for c in cases)


def _ranked(bank: CaseBank, usage: dict[str, dict], top: int, best: bool) -> list[dict[str, Any]]:
    """Return the `top` most (or least) useful cases that were ever retrieved, reading few cases.

    A case's usefulness lies between its value at reward 0 and at reward 1, known from its usage alone;
    cases are read in order of the bound that could rank them first, until no unread case can.
    """
    sign, reward = (-1.0, 1.0) if best else (1.0, 0.0)
    bound = {c: sign * lc.usefulness({"reward": reward}, u) for c, u in usage.items()}
    order = sorted(bound, key=bound.__getitem__)
    found: list[tuple[float, dict[str, Any]]] = []
    for start in range(0, len(order) if top > 0 else 0, _READ):
        found += [
            (sign * lc.usefulness(c, usage[c["id"]]), c)
            for c in bank.get(order[start : start + _READ])
        ]
        found.sort(key=lambda item: item[0])
        after = start + _READ
        if after < len(order) and len(found) >= top and found[top - 1][0] <= bound[order[after]]:
            break
    return [_brief(case, usage[case["id"]]) for _, case in found[:top]]


def _brief(case: dict[str, Any], use: dict[str, Any]) -> dict[str, Any]:
    return {"id": case["id"], "task": case["task"], "status": case["status"],
            "times_retrieved": use["times_retrieved"], "mean_reward": use["mean_reward"],
            "usefulness": round(lc.usefulness(case, use), 3)}  # fmt: skip
