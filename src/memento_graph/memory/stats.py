"""Case-bank statistics: counts by status and label, and the most and least useful cases."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from memento_graph.memory.lifecycle import RECENT, on_trial, usefulness

if TYPE_CHECKING:
    from memento_graph.memory.core import Memory


def case_stats(memory: Memory, top: int = 5) -> dict[str, Any]:
    """Return counts by status and label, cases on trial, mean reward, and the most and least useful."""
    cases = memory.bank.all()
    usage = memory.store.usage([c["id"] for c in cases])
    baseline = memory.store.mean_reward(memory.user, recent=RECENT)
    active = [c for c in cases if c["status"] == "active"]
    used = [c for c in cases if usage[c["id"]]["times_retrieved"] > 0]
    used.sort(key=lambda c: usefulness(c, usage[c["id"]]), reverse=True)

    def brief(case: dict[str, Any]) -> dict[str, Any]:
        use = usage[case["id"]]
        return {"id": case["id"], "task": case["task"], "status": case["status"],
                "times_retrieved": use["times_retrieved"], "mean_reward": use["mean_reward"],
                "usefulness": round(usefulness(case, use), 3)}  # fmt: skip

    return {
        "user": memory.user,
        "embedder": memory.embedder.id,
        "total": len(cases),
        "by_status": dict(Counter(c["status"] for c in cases)),
        "by_label": dict(Counter(c["label"] for c in cases)),
        "on_trial": sum(on_trial(c, usage[c["id"]], baseline) for c in active),
        "mean_reward": round(sum(c["reward"] for c in cases) / len(cases), 4) if cases else None,
        "episodes_mean_reward": memory.store.mean_reward(memory.user, recent=10**9),
        "most_useful": [brief(c) for c in used[:top]],
        "least_useful": [brief(c) for c in used[::-1][:top]],
    }
