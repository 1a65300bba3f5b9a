"""Per-case credit: which of the shown cases did an episode's plan actually follow.

The rank weight of a shown case is the prior that the planner followed it. Two kinds of evidence
update it, each a likelihood ratio:
1. the planner's own attribution (its reply names the cases it followed or adapted, and those it
   avoided): a named case weighs ATTRIBUTED times more, an avoided one AVOIDED times as much. The
   planner can be wrong, so this is evidence, not a verdict;
2. the semantic similarity of the plans: each plan's steps are embedded with the memory's embedder
   and two plans score the F1 of their steps' best-matching cosines (so shuffled, dropped, added or
   reworded steps still match), `exp(SHARPNESS * similarity)`.
Against them stands "followed no case", weighing what one case of average rank as similar as
NO_CASE would weigh: a plan resembling a case only as much as neighbouring plans of one domain do is no
sign of use, and unused cases earn neither blame nor praise. Without attribution and with plans alike
only as neighbours are, the credit is the rank-weighted share left to the cases (small, shared).
Cases carrying the same plan (a case and its copies, similarity SAME_PLAN+) share credit: each gets
the whole posterior that that plan was followed.

Calibration (bench/plan_overlap.py, results in bench/results/plan_overlap.json): the 1,278 real
Memento cases (memory.jsonl), each against its 4 nearest cases by task (all-MiniLM-L6-v2). Their plans
overlap at a median token Jaccard of 0.10 (95th percentile 0.39), and at a median step similarity
of 0.42 (95th percentile 0.67; random pairs 0.14, 95th 0.35). NO_CASE is that 95th percentile: a plan
closer to a case than 95% of real neighbouring plans are is a sign of use. With SHARPNESS 12 a plan
at NO_CASE + 0.2 (a paraphrase of the case) outweighs a typical neighbour (0.42) 100x.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import numpy as np

SAME_PLAN = 0.95  # plans this similar (step F1) are the same plan (a case and its copies)
SHARPNESS = (
    12.0  # exp(SHARPNESS * similarity): a paraphrase (0.87) outweighs a neighbour (0.42) 220x
)
NO_CASE = 0.67  # "followed no case" weighs as much as one case of average rank this similar
ATTRIBUTED = 20.0  # the planner named the case as followed: 20x more likely followed
AVOIDED = 0.1  # the planner named the case as avoided: 10x less likely followed
KIN_SHARPNESS = 20.0  # kinship sigmoid(KIN_SHARPNESS * (similarity - NO_CASE)): 0.5 at NO_CASE,
# 0.007 for a typical real neighbour (0.42), 0.8 for a plan 0.07 above NO_CASE

Embed = Callable[[list[str]], np.ndarray]


def clean_attribution(attribution: dict | None) -> dict[str, list[str]] | None:
    """Return the planner's attribution as unique case ids (followed wins over avoided), or None."""
    if not attribution:
        return None
    followed = list(dict.fromkeys(str(c) for c in attribution.get("followed") or []))
    avoided = [c for c in dict.fromkeys(str(c) for c in attribution.get("avoided") or [])
               if c not in followed]  # fmt: skip
    return {"followed": followed, "avoided": avoided}


def plan_steps(plan: str) -> list[str]:
    """Return a plan's step descriptions (a `{"plan": [...]}` JSON plan), else its non-empty lines."""
    try:
        data = json.loads(plan)
        steps = data.get("plan", data) if isinstance(data, dict) else data
        found = [str(s.get("description", "")).strip() for s in steps if isinstance(s, dict)]
        found = [s for s in found if s]
        if found:
            return found
    except (ValueError, TypeError, AttributeError):
        pass
    lines = [line.strip() for line in str(plan).splitlines() if line.strip()]
    return lines or [str(plan).strip() or " "]


def step_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Return the F1 of best-matching step cosines of two plans (rows: unit step vectors)."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    sims = np.clip(a @ b.T, 0.0, 1.0)
    recall, precision = float(sims.max(axis=1).mean()), float(sims.max(axis=0).mean())
    return 0.0 if recall + precision == 0 else 2 * recall * precision / (recall + precision)


def plan_similarity(embed: Embed, plans: Sequence[str]) -> np.ndarray:
    """Return the step similarity of every pair of plans (a symmetric matrix, 1 on the diagonal)."""
    steps = [plan_steps(p) for p in plans]
    unique = list(dict.fromkeys(s for group in steps for s in group))
    vectors = dict(zip(unique, embed(unique), strict=True)) if unique else {}
    rows = [np.stack([vectors[s] for s in group]).astype(np.float64) for group in steps]
    out = np.eye(len(plans))
    for i in range(len(plans)):
        for j in range(i + 1, len(plans)):
            out[i, j] = out[j, i] = step_similarity(rows[i], rows[j])
    return out


def influence(
    similarity: np.ndarray,
    weights: np.ndarray,
    followed: Sequence[int] = (),
    avoided: Sequence[int] = (),
) -> np.ndarray:
    """Return how much the episode followed each shown case (sums to at most 1; the rest: no case).

    `similarity`: the episode's plan against each case plan; `followed` / `avoided`: positions
    (0-based) of the cases the planner named (out-of-range positions are ignored).
    """
    similarity = np.asarray(similarity, dtype=np.float64)
    n = len(similarity)
    if n == 0:
        return np.zeros(0)
    ratio = np.ones(n)
    for i in set(avoided):
        if 0 <= i < n:
            ratio[i] = AVOIDED
    for i in set(followed):
        if 0 <= i < n:
            ratio[i] = ATTRIBUTED
    share = np.asarray(weights, dtype=np.float64) * ratio * np.exp(SHARPNESS * similarity)
    no_case = np.exp(SHARPNESS * NO_CASE) / n
    return share / (share.sum() + no_case)


def share_by_plan(responsibility: np.ndarray, between: np.ndarray) -> np.ndarray:
    """Give every case the summed responsibility of all shown cases carrying the same plan.

    `between`: the similarity matrix of the shown cases' plans.
    """
    same = np.asarray(between) >= SAME_PLAN
    return (same @ np.asarray(responsibility, dtype=np.float64)).astype(np.float64)


def kinship(between: np.ndarray) -> np.ndarray:
    """Return how much two cases' plans are one plan, from their similarity matrix (1 on the diagonal).

    A plan as alike to another as real neighbouring plans are (median 0.42) shares nothing of its
    record; a paraphrase (above NO_CASE) shares most of it.
    """
    kin = 1.0 / (1.0 + np.exp(-KIN_SHARPNESS * (np.asarray(between) - NO_CASE)))
    np.fill_diagonal(kin, 1.0)
    return kin
