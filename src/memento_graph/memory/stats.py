"""Case-bank statistics: counts by status and label, and the most and least useful cases.

Nothing here reads the whole bank: counts come from id-only gets (of the cases not active, and
with rewards below 1; only fractional rewards, rare, are read), usage from the experience store's
per-case table, and only the cases that can rank are read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import betainc

from memento_graph.memory import lifecycle as lc
from memento_graph.settings import SETTINGS

if TYPE_CHECKING:
    from memento_graph.memory.case_store import CaseStore
    from memento_graph.memory.core import Memory
    from memento_graph.memory.schema import CaseRecord

_READ = 256  # cases read at a time while ranking
_KEYS = ("times_retrieved", "mean_reward", "credit_uses", "credit_successes")


def case_stats(memory: Memory, top: int = 5) -> dict[str, Any]:
    """Return counts by status and label, cases on trial, mean reward, and the most and least useful."""
    bank, store = memory.bank, memory.store
    total = bank.count()
    ids, table = store.totals_table(memory.user)
    baseline = store.mean_reward(memory.user, recent=lc.RECENT)
    inactive = {s: bank.ids(status=s) for s in ("quarantined", "retired")}
    zeros = bank.ids(reward_at_most=0.0)
    between = set(bank.ids(reward_below=1.0)).difference(zeros)  # fractional: rare, read
    rewards = {c["id"]: c["reward"] for c in bank.get(sorted(between))}
    negative = zeros + [i for i, r in rewards.items() if r < 0.5]
    by_status = {"active": total - sum(map(len, inactive.values()))} | {
        s: len(i) for s, i in inactive.items()
    }
    by_label = {"positive": total - len(negative), "negative": len(negative)}
    ones = total - len(zeros) - len(rewards)
    return {
        "user": memory.user,
        "embedder": memory.embedder.id,
        "total": total,
        "by_status": {key: n for key, n in by_status.items() if n},
        "by_label": {key: n for key, n in by_label.items() if n},
        "on_trial": _on_trial(bank, ids, table, baseline, {*negative, *sum(inactive.values(), [])}),
        "mean_reward": round((ones + sum(rewards.values())) / total, 4) if total else None,
        "episodes_mean_reward": store.mean_reward(memory.user, recent=10**9),
        "most_useful": _ranked(bank, ids, table, top, best=True),
        "least_useful": _ranked(bank, ids, table, top, best=False),
    }


def _on_trial(
    bank: CaseStore, ids: list[str], table: np.ndarray, baseline: float | None, excluded: set[str]
) -> int:
    """Count the cases on trial (`lifecycle.on_trial`), given the negative and inactive ones to exclude."""
    if baseline is None or not 0 < baseline < 1 or not ids:
        return 0
    judged = np.flatnonzero(table[:, 2] >= lc.MIN_CREDIT)
    uses, wins = table[judged, 2], table[judged, 3]
    alpha = lc.PRIOR * baseline + wins  # lifecycle.p_worse, over arrays
    p = betainc(
        alpha, lc.PRIOR * (1.0 - baseline) + np.maximum(uses - wins, 0.0), lc.WORSE * baseline
    )
    trial = judged[(p >= lc.TRIAL) & (p < SETTINGS.quarantine_confidence)]
    return len(bank.existing([ids[i] for i in trial if ids[i] not in excluded]))


def _ranked(
    bank: CaseStore, ids: list[str], table: np.ndarray, top: int, best: bool
) -> list[dict[str, Any]]:
    """Return the `top` most (or least) useful cases that were ever retrieved, reading few cases.

    A case's usefulness lies between its values at reward 0 and 1, known from its usage alone; cases are
    read in order of the bound that could rank them first, until no unread case can.
    """
    sign, reward = (-1.0, 1.0) if best else (1.0, 0.0)
    bound = sign * lc.usefulness_of(reward, table[:, 3], table[:, 2])
    order = np.argsort(bound, kind="stable")
    found: list[tuple[float, CaseRecord, dict[str, Any]]] = []
    for start in range(0, len(order) if top > 0 else 0, _READ):
        rows = {ids[i]: table[i] for i in order[start : start + _READ]}
        for case in bank.get(list(rows)):
            row = rows[case["id"]]
            usage = dict(zip(_KEYS, map(float, row), strict=True))
            found.append((sign * lc.usefulness(case, usage), case, usage))
        found.sort(key=lambda item: item[0])
        after = start + _READ
        if after < len(order) and len(found) >= top and found[top - 1][0] <= bound[order[after]]:
            break
    return [_brief(case, usage) for _, case, usage in found[:top]]


def _brief(case: CaseRecord, use: dict[str, Any]) -> dict[str, Any]:
    mean = None if np.isnan(use["mean_reward"]) else use["mean_reward"]
    return {"id": case["id"], "task": case["task"], "status": case["status"],
            "times_retrieved": int(use["times_retrieved"]), "mean_reward": mean,
            "usefulness": round(lc.usefulness(case, use), 3)}  # fmt: skip
