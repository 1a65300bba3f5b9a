"""How much a reward can be trusted: its source and a confidence, the weight of its evidence.

Ground truth and the user's own feedback are taken as certain (1.0). An LLM judge is not: its verdict
weighs at most JUDGE_HIGH, by the confidence the judge states itself (low, medium, high; medium
when it states none). Learning (the credit a case earns, the policy's update) and quarantine count
an episode's evidence times this confidence, so one judge verdict (at most 0.6 of a use) can neither
quarantine a good case nor promote a bad one: p_worse needs about three certain failures (lifecycle.py),
that is four confident judge failures in a row (a judge wrong 20% of the time: 0.2% on a case
that succeeds).

Two samples of the judge (Context.judge_samples, the default) are a cheap second check: when both
verdicts agree the reward weighs their stated confidence; when they disagree it is close to a coin toss
and weighs JUDGE_DISAGREED. Agreement does not raise a judge above JUDGE_HIGH: a judge repeats its own
mistakes (the bench assumes its errors correlated at 0.5, so at 20% noise per sample 14% of the agreed
verdicts are wrong, not 6%), and two agreeing judge failures must not quarantine a case on their own.
"""

from __future__ import annotations

from typing import Any

CERTAIN = 1.0  # ground truth, user feedback
JUDGE_STATED = {"low": 0.2, "medium": 0.4, "high": 0.6}  # an LLM judge's stated confidence
JUDGE_HIGH = JUDGE_STATED["high"]
TRUSTED_SOURCES = ("ground_truth", "user")
JUDGE_DISAGREED = 0.1  # two samples that disagree: the verdict is nearly a coin toss


def sample_agreement(verdicts: list[str], stated: list[str]) -> tuple[int, float]:
    """Return (the index of the sample whose verdict counts, its confidence) for 1-2 judge samples.

    One sample weighs its stated confidence; two that agree weigh the mean of theirs; two that
    disagree weigh JUDGE_DISAGREED and the more confident one counts.
    """
    weights = [JUDGE_STATED.get(str(c).lower(), JUDGE_STATED["medium"]) for c in stated]
    if len(verdicts) < 2:
        return 0, weights[0]
    if verdicts[0] == verdicts[1]:
        return 0, sum(weights[:2]) / 2
    return (1 if weights[1] > weights[0] else 0), JUDGE_DISAGREED


def reward_confidence(judge: dict[str, Any] | None) -> float:
    """Return the weight of a reward's evidence in [0, 1] from its judge record.

    A record that carries a numeric `confidence` (already weighed) keeps it, clipped to its
    source's ceiling; a judge's stated `low`/`medium`/`high` maps through JUDGE_STATED.
    """
    judge = judge or {}
    source = judge.get("source")
    ceiling = CERTAIN if source in TRUSTED_SOURCES or source is None else JUDGE_HIGH
    stated = judge.get("confidence")
    if isinstance(stated, int | float) and not isinstance(stated, bool):
        return float(min(max(stated, 0.0), ceiling))
    if source in TRUSTED_SOURCES or source is None:
        return CERTAIN
    return JUDGE_STATED.get(str(stated or "medium").lower(), JUDGE_STATED["medium"])
