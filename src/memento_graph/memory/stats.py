"""Case-bank statistics: counts by status and label, and the most and least useful cases.

Nothing here reads the whole bank: counts, cases on trial and the usefulness ranking come from the
case index (each case's status and reward, case_index.py) joined with the experience store's per-case
usage; only the few ranked cases are read from the bank.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import betainc

from memento_graph.memory import lifecycle as lc
from memento_graph.settings import SETTINGS

if TYPE_CHECKING:
    from memento_graph.memory.core import Memory
    from memento_graph.memory.schema import CaseRecord


def case_stats(memory: Memory, top: int = 5, recount: bool = False) -> dict[str, Any]:
    """Return counts by status and label, cases on trial, mean reward, and the most and least useful.

    `recount`: rebuild the case index from the bank first (it is rebuilt anyway when their sizes differ).
    """
    index, store = memory.index, memory.store
    index.ensure(memory.bank, recount)
    tally = index.tally()
    by_status: dict[str, int] = {}
    by_label = {"positive": 0, "negative": 0}
    for (status, negative), (n, _) in sorted(tally.items()):
        by_status[status] = by_status.get(status, 0) + n
        by_label["negative" if negative else "positive"] += n
    total = sum(by_status.values())
    baseline = store.mean_reward(memory.user, recent=lc.RECENT)
    return {
        "user": memory.user,
        "embedder": memory.embedder.id,
        "total": total,
        "by_status": {key: n for key, n in by_status.items() if n},
        "by_label": {key: n for key, n in by_label.items() if n},
        "on_trial": _on_trial(index.judged(), baseline),
        "mean_reward": round(sum(r for _, r in tally.values()) / total, 4) if total else None,
        "episodes_mean_reward": store.mean_reward(memory.user, recent=10**9),
        "most_useful": _ranked(memory, top, best=True),
        "least_useful": _ranked(memory, top, best=False),
    }


def _on_trial(judged: np.ndarray, baseline: float | None) -> int:
    """Count the cases on trial (`lifecycle.on_trial`) among active positive cases' (uses, successes)."""
    if baseline is None or not 0 < baseline < 1 or not len(judged):
        return 0
    uses, wins = judged[:, 0], judged[:, 1]
    alpha = lc.PRIOR * baseline + wins  # lifecycle.p_worse, over arrays
    p = betainc(
        alpha, lc.PRIOR * (1.0 - baseline) + np.maximum(uses - wins, 0.0), lc.WORSE * baseline
    )
    return int(np.count_nonzero((p >= lc.TRIAL) & (p < SETTINGS.quarantine_confidence)))


def _ranked(memory: Memory, top: int, best: bool) -> list[dict[str, Any]]:
    """Return the `top` most (or least) useful cases that were ever retrieved (any status)."""
    usage = dict(memory.index.ranked(top, best))
    found = [
        (lc.usefulness(case, usage[case["id"]]), case) for case in memory.bank.get(list(usage))
    ]
    found.sort(key=lambda item: (-item[0] if best else item[0], item[1]["id"]))
    return [_brief(case, usage[case["id"]]) for _, case in found]


def _brief(case: CaseRecord, use: dict[str, Any]) -> dict[str, Any]:
    mean = None if np.isnan(use["mean_reward"]) else use["mean_reward"]
    return {"id": case["id"], "task": case["task"], "status": case["status"],
            "times_retrieved": int(use["times_retrieved"]), "mean_reward": mean,
            "usefulness": round(lc.usefulness(case, use), 3)}  # fmt: skip
