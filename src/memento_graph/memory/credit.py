"""Per-case credit: which of the shown cases did an episode's plan actually follow.

The planner adapts some shown cases more than others. The influence of case i on an episode is read
from the plan itself: the token overlap (Jaccard) between the episode's plan and case i's plan,
sharpened, times the case's rank weight. A plan that follows none of them closely (plans of one domain
share a vocabulary, so a loose overlap is no sign of use) leaves most of the influence to "no case":
that share is what a plan overlapping NO_CASE would get, so unused cases earn neither blame nor praise.
Cases carrying the same plan (a case and its copies) share credit: each gets the whole posterior that
that plan was followed.
"""

from __future__ import annotations

import re

import numpy as np

SAME_PLAN = 0.9  # plans overlapping this much are the same plan (a case and its copies)
SHARPNESS = 8.0  # exp(SHARPNESS * overlap): a copied plan outweighs a loose one (0.3) ~270x
NO_CASE = 0.5  # "followed no case" weighs as much as one case of average rank overlapping this much
_TOKEN = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an the of to in on for and or is was be by with plan id description step".split()
)


def plan_tokens(plan: str) -> frozenset[str]:
    """Return the content words of a plan (JSON or text), lower-cased."""
    return frozenset(t for t in _TOKEN.findall(str(plan).lower()) if t not in _STOP)


def overlap(plan: str, case_plans: list[str]) -> np.ndarray:
    """Return the Jaccard overlap between a plan and each case plan."""
    mine = plan_tokens(plan)
    out = np.zeros(len(case_plans))
    for i, other in enumerate(case_plans):
        theirs = plan_tokens(other)
        union = mine | theirs
        out[i] = len(mine & theirs) / len(union) if union else 0.0
    return out


def influence(plan: str, case_plans: list[str], weights: np.ndarray) -> np.ndarray:
    """Return how much the episode followed each shown case (sums to at most 1; the rest: no case)."""
    if not case_plans:
        return np.zeros(0)
    share = np.asarray(weights, dtype=np.float64) * np.exp(SHARPNESS * overlap(plan, case_plans))
    no_case = np.exp(SHARPNESS * NO_CASE) / len(case_plans)
    return share / (share.sum() + no_case)


def share_by_plan(responsibility: np.ndarray, case_plans: list[str]) -> np.ndarray:
    """Give every case the summed responsibility of all shown cases carrying the same plan."""
    out = np.array(responsibility, dtype=np.float64)
    for i, plan in enumerate(case_plans):
        same = overlap(plan, case_plans) >= SAME_PLAN
        out[i] = float(np.sum(responsibility[same]))
    return out
