"""Case lifecycle: near-duplicates, automatic quarantine, rollback, capacity eviction, dedupe.

Statuses: active (retrievable), quarantined (never retrieved, inspectable, restorable), retired (rolled
back, evicted or merged; restorable too). Nothing here deletes a case.

The evidence on a case is its credited record: per episode, the responsibility for the reward
(credit.py) times the reward's confidence (trust.py). Calibration, for real plans (they overlap their
neighbours at step similarity 0.42, bench/plan_overlap.py): an episode the planner attributes to a
case, or whose plan is a paraphrase of it (similarity 0.7+), credits it 0.6-0.95 of a use with ground
truth and 0.35-0.55 with a confident judge; a case merely shown (a neighbour's plan) gets < 0.05. So
MIN_CREDIT (0.5) is about one followed use, and quarantine (p_worse >= CONFIDENCE at PRIOR 2) takes
three certain failures (two when the peers succeed 85% of the time) or four confident judge failures.
A case is judged with its lineage (lineage.py): the records of the cases its plan was written from or
written into, by kinship, so a plan's failures count wherever its paraphrases were shown.
PRIOR was 1 (two failures): in the bench's small-effect world (a good case succeeds 0.60, its peers
0.52) two straight failures of a good case are common (16%) and 6-8% of good cases were quarantined;
at PRIOR 2 1.3-1.4% are, while the poison of the medium paraphrase world is still quarantined within
10 follows (bench/results/learning-conditions.json).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import numpy as np

from memento_graph.memory import lineage
from memento_graph.memory.case_store import CaseFilter, CaseStore
from memento_graph.memory.experience import ExperienceStore
from memento_graph.memory.schema import CaseRecord, now_iso, to_timestamp
from memento_graph.scoring import normalize_answer
from memento_graph.settings import SETTINGS

MIN_CREDIT = 0.5  # a case is judged only once episodes followed it (credited uses) this much
WORSE = 0.75  # "much worse": credited success below this share of the peers' level ...
# ... this surely: SETTINGS.quarantine_confidence (MEMENTO_QUARANTINE_CONFIDENCE)
TRIAL = 0.5  # a case more likely worse than not (but not yet surely) is on trial: tried again first
PRIOR = 2.0  # a case starts at the peers' level, worth this many credited uses
RECENT = 500  # the peers' level: mean reward of this many recent episodes
SWEEP_EVERY = 10  # episodes between re-checks of cases no longer shown (their peers improve) ...
SWEEP_SHARE = (
    0.01  # ... or this share of the user's episodes, when larger (the sweep reads them all)
)
ACTIVE: CaseFilter = {"status": "active"}
Num = TypeVar("Num", float, np.ndarray)
RETIRE_TO = 0.95  # a bank over capacity retires down to this share of it (at least to capacity)
RECOUNT = 1000  # capacity checks between exact counts of the active cases (restores by hand)


def find_duplicate(
    bank: CaseStore, vector: np.ndarray, task: str, threshold: float
) -> CaseRecord | None:
    """Return the active case whose task is a near-duplicate of `task`, if any."""
    hits = bank.query(vector, 3, status="active")
    same = [h for h in hits if normalize_answer(h["task"]) == normalize_answer(task)]
    if same:
        return same[0]
    return hits[0] if hits and hits[0]["similarity"] >= threshold else None


def set_status(bank: CaseStore, case_id: str, status: str, reason: str, **extra: Any) -> bool:
    """Change a case's status (with a reason and time); return False for an unknown id."""
    if not bank.get([case_id]):
        return False
    bank.update(case_id, status=status, status_reason=f"{reason} at {now_iso()}", **extra)
    return True


def p_worse(use: Mapping[str, Any], baseline: float) -> float:
    """Return the posterior probability that a case succeeds less often than WORSE x baseline.

    The prior is the peers' level worth PRIOR credited uses. So a case without credited evidence
    (shown, never followed) is never judged worse, nor are two failures while the peers' level
    is below 0.85 (a case as good as its peers fails now and then); three with nothing else are.
    """
    from scipy.special import betainc  # 1 s to import: only when a case has credited uses

    wins, uses = use["credit_successes"], use["credit_uses"]
    alpha, beta = PRIOR * baseline + wins, PRIOR * (1.0 - baseline) + max(uses - wins, 0.0)
    return float(betainc(alpha, beta, WORSE * baseline))


def on_trial(case: Mapping[str, Any], use: Mapping[str, Any], baseline: float | None) -> bool:
    """Return whether a positive case's verdict is open: its record says worse, not yet surely.

    The learned policy shows such a case first (where it is followed) on a task it is the most
    similar case for, so the next use decides it: a harmful case is quarantined at its second
    failure instead of being dropped unseen after its first, and a good case that was unlucky
    once is cleared. Negative cases (examples to avoid) are not tried.
    """
    if baseline is None or not 0 < baseline < 1 or use["credit_uses"] < MIN_CREDIT:
        return False
    if case["reward"] < 0.5:
        return False
    return TRIAL <= p_worse(use, baseline) < SETTINGS.quarantine_confidence


def check_quarantine(
    bank: CaseStore, store: ExperienceStore, case_ids: list[str], baseline: float | None = None
) -> list[str]:
    """Quarantine cases whose credited success is confidently much worse than their peers'.

    The cases judged are those with MIN_CREDIT credited uses of their own. One whose own record is
    below the peers' level is judged on its lineage's (`lineage.pooled_usage`: its own plus its
    parent's and children's, by kinship); one at the peers' level or above stands on its own. A case
    quarantined now has its relatives judged too, tested or not (an untested copy of a quarantined
    plan goes with it). The peers' level is the mean reward of the user's recent episodes: a global
    yardstick that a spreading bad case cannot drag down in its own neighbourhood (pass `baseline`
    when already known). Returns the ids quarantined now.
    """
    usage = store.usage(case_ids)
    todo = [c for c in dict.fromkeys(case_ids) if usage[c]["credit_uses"] >= MIN_CREDIT]
    if todo and baseline is None:
        baseline = store.mean_reward(bank.user, recent=RECENT)
    if not todo or baseline is None or not 0 < baseline < 1:
        return []
    quarantined: list[str] = []
    seen = set(todo)
    while todo:
        cases = [c for c in bank.get(todo) if c["status"] == "active"]
        own = store.usage([c["id"] for c in cases])
        below = [c for c in cases if own[c["id"]]["credit_successes"]
                 < baseline * own[c["id"]]["credit_uses"] or not own[c["id"]]["credit_uses"]]  # fmt: skip
        pooled = {**own, **lineage.pooled_usage(bank, store, below, own)}
        now = [c for c in cases if pooled[c["id"]]["credit_uses"] >= MIN_CREDIT
               and _judge(bank, c, pooled[c["id"]], baseline, pooled[c["id"]] != own[c["id"]])]  # fmt: skip
        quarantined += [c["id"] for c in now]
        family = lineage.relatives(bank, now)
        kin = dict.fromkeys(i for c in now for i, _ in family[c["id"]])
        todo = [i for i in kin if i not in seen]
        seen.update(todo)
    return quarantined


def _judge(
    bank: CaseStore, case: CaseRecord, use: Mapping[str, Any], baseline: float, pooled: bool
) -> bool:
    """Quarantine one active case if its record is confidently much worse; return whether it was."""
    if p_worse(use, baseline) < SETTINGS.quarantine_confidence:
        return False
    reason = (
        f"auto: {use['credit_successes']:.1f} credited successes in "
        f"{use['credit_uses']:.1f} uses vs peers' {baseline:.2f}"
    )
    if pooled:
        reason += " (with its lineage's)"
    set_status(bank, case["id"], "quarantined", reason)
    return True


def sweep_due(episodes: int) -> bool:
    """Return whether the episode just recorded (the user's n-th) is due a quarantine sweep."""
    return episodes % max(SWEEP_EVERY, int(episodes * SWEEP_SHARE)) == 0


def sweep_quarantine(bank: CaseStore, store: ExperienceStore) -> list[str]:
    """Re-check every case with a credited record below its peers' level, shown now or not.

    A case the learned policy has stopped showing is never re-checked by `check_quarantine`; as the
    peers' level rises, the same record can become confidently much worse. Returns the ids quarantined.
    """
    baseline = store.mean_reward(bank.user, recent=RECENT)
    if baseline is None:
        return []
    suspects = store.suspects(bank.user, MIN_CREDIT, baseline)
    return check_quarantine(bank, store, suspects, baseline)


def usefulness(case: Mapping[str, Any], use: Mapping[str, Any]) -> float:
    """Return how useful a case has been: credited successes, with its own reward as a 2-use prior."""
    return usefulness_of(case["reward"], use["credit_successes"], use["credit_uses"])


def usefulness_of(reward: float, successes: Num, uses: Num) -> Num:
    """Return `usefulness` from a reward and credited successes and uses (numbers or arrays)."""
    return (successes + 2.0 * (0.25 + 0.5 * reward)) / (uses + 2.0)


def enforce_capacity(bank: CaseStore, store: ExperienceStore, max_cases: int) -> list[str]:
    """Retire the least useful (then oldest) active cases once more than `max_cases` are active.

    Only active cases count, and they are counted rarely: the count of the last check (the bank's size
    when that is within capacity, else its active cases) plus the cases this process wrote since bounds
    them; a bound over capacity, or RECOUNT checks (writes by other processes, restores), counts again.
    A full bank retires down to RETIRE_TO of its capacity in one batched update, so eviction (one read
    of the active cases' metadata) runs once per max_cases/20 new cases: amortised O(1) per task.
    Returns the ids retired now.
    """
    bank.checks += 1
    if bank.active is None or bank.checks > RECOUNT or bank.active + bank.added > max_cases:
        total = bank.count()
        bank.active = total if total <= max_cases else len(bank.ids(**ACTIVE))
        bank.added, bank.checks = 0, 0
    active = bank.active + bank.added
    if active <= max_cases:
        return []
    victims = least_useful(bank, store, active - int(max_cases * RETIRE_TO + 0.999))
    bank.update_many(victims, status="retired", status_reason=f"evicted: capacity at {now_iso()}")
    bank.active, bank.added = active - len(victims), 0
    return victims


def least_useful(bank: CaseStore, store: ExperienceStore, n: int) -> list[str]:
    """Return the ids of the n least useful (then oldest) active cases, from metadata and SQL totals."""
    if n <= 0:
        return []
    usage = store.totals(bank.user)

    def key(item: tuple[str, dict[str, Any]]) -> tuple[float, str]:
        case = {"reward": float(item[1].get("reward") or 0.0)}
        return usefulness(case, usage.get(item[0], _NO_USE)), item[1].get("created_at") or ""

    return [case_id for case_id, _ in sorted(bank.metadata(**ACTIVE).items(), key=key)[:n]]


def rollback(bank: CaseStore, since: str) -> list[str]:
    """Retire every non-retired case created at or after `since` (ISO time); return their ids."""
    try:
        stamp = to_timestamp(since)
    except ValueError as exc:
        from memento_graph.errors import MementoError

        raise MementoError(f"bad time {since!r}: use ISO 8601, e.g. 2025-01-31T12:00") from exc
    cases = bank.all(created_since=stamp)
    victims = [c["id"] for c in cases if c["status"] != "retired"]
    for case_id in victims:
        set_status(bank, case_id, "retired", f"rollback since {since}")
    return victims


def dedupe(bank: CaseStore, store: ExperienceStore, threshold: float) -> list[tuple[str, str]]:
    """Merge near-duplicate active cases: keep the better one, retire the other; return (kept, retired)."""
    active = bank.all(embeddings=True, **ACTIVE)
    usage = store.usage([c["id"] for c in active])
    gone: set[str] = set()
    merged = []
    for case in sorted(active, key=lambda c: c["provenance"]["created_at"] or ""):
        if case["id"] in gone:
            continue
        for other in find_all_duplicates(bank, case, threshold):
            if other["id"] in gone or other["id"] == case["id"]:
                continue
            key = lambda c: (c["reward"], usefulness(c, usage.get(c["id"], _NO_USE)))  # noqa: E731
            keep, drop = (case, other) if key(case) >= key(other) else (other, case)
            set_status(
                bank, drop["id"], "retired", f"merged into {keep['id']}", merged_into=keep["id"]
            )
            gone.add(drop["id"])
            merged.append((keep["id"], drop["id"]))
            if drop is case:
                break
    return merged


_NO_USE = {"credit_successes": 0.0, "credit_uses": 0.0, "times_retrieved": 0}


def find_all_duplicates(bank: CaseStore, case: CaseRecord, threshold: float) -> list[CaseRecord]:
    """Return active cases (other than `case`) that are near-duplicates of it."""
    hits = bank.query(case["embedding"], 5, status="active")
    norm = normalize_answer(case["task"])
    return [
        h for h in hits
        if h["id"] != case["id"] and (h["similarity"] >= threshold or normalize_answer(h["task"]) == norm)
    ]  # fmt: skip
