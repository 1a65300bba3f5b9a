"""Case-selection policies: `similarity` (top-K cosine) and `learned` (online P(success | task, case)).

The learned policy models an episode as the planner following one of the K cases shown, case i with a
rank weight w_i, and succeeding with that case's probability p_i. Its parts:
- a logistic model of p on frozen embedding features (task, case, their product, cosine, label), the
  prior for every (task, case) pair, also for cases never used;
- per-case credit: after an episode with reward y, case i gets the responsibility
  f_i p_i^y (1 - p_i)^(1 - y) / sum_j (...)  (EM on the mixture) instead of one label shared by all
  cases, where f_i is how closely the episode's plan follows case i's plan (see `credit.py`);
  its credited successes and uses (each weighed by the reward's confidence) turn the prior into a
  Beta posterior; when selecting, a case also counts the outcome of the episode that wrote it
  (OWN_OUTCOME, weighed by its judge's confidence) and the records of candidates whose plans are
  alike (`credit.kinship`), so a new paraphrase of a proven plan starts from that plan's record and
  a plan that keeps failing when rewritten is known as such;
- a floor: a positive case expected below SHOW_FLOOR x the peers' level is not shown (offered as a
  model, it gets reused; left out, the planner is free to find a better plan), so fewer than K may
  be shown;
- exploration by Thompson sampling from that posterior (or epsilon-greedy), then the best K, best first;
- a trial: a case whose quarantine verdict is open (see `lifecycle.on_trial`) goes first on a task
  for which it is the most similar case, so the evidence that decides it comes soon.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from memento_graph.settings import SETTINGS

PRIOR_STRENGTH = 3.0  # pseudo-uses the model's prior is worth against a case's own credited record
OWN_OUTCOME = 1.0  # the episode that wrote a case counts as this many uses of it (x its confidence)
SHOW_FLOOR = 0.75  # a positive case expected below this x the peers' level is not shown


def _with_outcome(case: Mapping[str, Any], use: Mapping[str, Any]) -> dict[str, Any]:
    """Return a case's credited record plus the outcome of the episode that wrote it."""
    from memento_graph.memory.trust import reward_confidence

    weight = OWN_OUTCOME * reward_confidence(case.get("judge"))
    return {**use, "credit_uses": use.get("credit_uses", 0.0) + weight,
            "credit_successes": use.get("credit_successes", 0.0) + weight * float(case["reward"])}  # fmt: skip


def rank_weights(k: int) -> np.ndarray:
    """Return how much the planner follows each of k shown cases (linear in rank, sums to 1)."""
    w = np.arange(k, 0, -1, dtype=np.float64)
    return w / w.sum()


def similarity_select(candidates: Sequence[Mapping[str, Any]], k: int) -> list[dict[str, Any]]:
    """Keep the k most similar cases; score = cosine similarity."""
    ranked = sorted(candidates, key=lambda c: c["similarity"], reverse=True)[:k]
    return [{**c, "score": round(float(c["similarity"]), 6)} for c in ranked]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30, 30)))


class LearnedPolicy:
    """Online logistic prior + per-case credited Beta posterior + Thompson sampling."""

    def __init__(
        self, dim: int, exploration: str | None = None, lr: float = 0.1, l2: float = 1e-3
    ) -> None:
        self.dim = dim
        self.exploration = exploration or SETTINGS.policy_exploration
        self.lr, self.l2 = lr, l2
        self.weights, self.updates = self._initial(), 0
        self.version: int | None = None
        """Version of the stored state these weights are (None: not known to be any)."""
        self._rng = np.random.default_rng(SETTINGS.policy_seed)  # reproducible when set
        self._lock = threading.Lock()

    def _initial(self) -> np.ndarray:
        weights = np.zeros(2 * self.dim + 4, dtype=np.float64)
        # start: a similar (cosine 0.8) positive case helps with P ~ 0.75, a negative one ~ 0.4
        weights[:3] = (-1.0, 2.0, 0.7)
        return weights

    # -- features and estimates ----------------------------------------------------------------------
    def features(self, task_vec: np.ndarray, cases: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Return one feature row per case: bias, cosine, label, cosine x label, case, task * case."""
        emb = np.stack([c["embedding"] for c in cases]).astype(np.float64)
        sim = np.array([c["similarity"] for c in cases])
        label = np.array([1.0 if c["reward"] >= 0.5 else -1.0 for c in cases])
        head = np.stack([np.ones(len(cases)), sim, label, sim * label], axis=1)
        return np.hstack([head, emb, emb * np.asarray(task_vec, dtype=np.float64)[None, :]])

    def prior(self, task_vec: np.ndarray, cases: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Return the model's P(success | task, case) for each case."""
        with self._lock:
            weights = self.weights.copy()
        return _sigmoid(self.features(task_vec, cases) @ weights)

    @staticmethod
    def posterior(
        prior: np.ndarray, usage: Sequence[Mapping[str, Any]], kin: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return Beta(alpha, beta) per case: the prior worth PRIOR_STRENGTH uses plus credited record.

        `kin` (cases x cases, 1 on the diagonal): how much of each other case's record counts as the
        case's own, because their plans are alike (`credit.kinship`): a paraphrase of a plan that
        worked inherits its record, a new case is not a blank.
        """
        uses = np.array([u.get("credit_uses", 0.0) for u in usage])
        wins = np.array([u.get("credit_successes", 0.0) for u in usage])
        if kin is not None:
            uses, wins = kin @ uses, kin @ wins
        alpha = PRIOR_STRENGTH * prior + wins + 1e-3
        beta = PRIOR_STRENGTH * (1 - prior) + np.maximum(uses - wins, 0.0) + 1e-3
        return alpha, beta

    # -- acting ----------------------------------------------------------------------------------------
    def select(
        self,
        task_vec: np.ndarray,
        candidates: Sequence[Mapping[str, Any]],
        usage: Sequence[Mapping[str, Any]],
        k: int,
        trial: list[bool] | None = None,
        kin: np.ndarray | None = None,
        baseline: float | None = None,
    ) -> list[dict[str, Any]]:
        """Score candidates (sampled or mean posterior) and keep the best k; score = P(success).

        `trial` marks candidates on trial: the most similar candidate goes first when it is on trial
        (the task it fits best is the fairest test of its claim). With `baseline` (the peers' level),
        a positive candidate (not on trial) whose posterior mean is below SHOW_FLOOR x baseline is
        not shown: fewer cases (or none) leave the planner free to find a better plan than one the
        record says does worse. Negative cases (examples to avoid) are ranked, never hidden.
        """
        if not candidates:
            return []
        if OWN_OUTCOME > 0:
            usage = [_with_outcome(c, u) for c, u in zip(candidates, usage, strict=True)]
        alpha, beta = self.posterior(self.prior(task_vec, candidates), usage, kin)
        mean = alpha / (alpha + beta)
        if baseline is not None and 0 < baseline < 1:
            keep = [i for i, c in enumerate(candidates)
                    if c["reward"] < 0.5 or mean[i] >= SHOW_FLOOR * baseline
                    or (trial is not None and trial[i])]  # fmt: skip
            if trial is not None:
                trial = [trial[i] for i in keep]
            candidates = [candidates[i] for i in keep]
            alpha, beta, mean = alpha[keep], beta[keep], mean[keep]
            if not candidates:
                return []
        if self.exploration == "thompson":
            rank_by = self._rng.beta(alpha, beta)
        elif self.exploration.startswith("epsilon"):
            eps = float(self.exploration.partition(":")[2] or 0.1)
            rank_by = np.where(self._rng.random(len(mean)) < eps, self._rng.random(len(mean)), mean)
        else:
            rank_by = mean
        order = [int(i) for i in np.argsort(-rank_by, kind="stable")[:k]]
        nearest = int(np.argmax([c["similarity"] for c in candidates]))
        if trial is not None and trial[nearest]:
            order = [nearest] + [i for i in order if i != nearest][: k - 1]
        return [{**candidates[i], "score": round(float(mean[i]), 6)} for i in order]

    # -- learning --------------------------------------------------------------------------------------
    def credit(self, estimates: np.ndarray, reward: float, follow: np.ndarray) -> np.ndarray:
        """Return each shown case's responsibility for the reward (sums to at most 1).

        Posterior of "case i was followed" given the reward: follow_i * p_i^y * (1 - p_i)^(1 - y),
        against "no case was followed" (the share of `follow` left over) at even odds.
        """
        p = np.clip(estimates, 1e-3, 1 - 1e-3)
        resp = follow * p**reward * (1 - p) ** (1 - reward)
        no_case = max(1.0 - float(np.sum(follow)), 0.0) * 0.5
        return resp / (resp.sum() + no_case)

    def train(
        self,
        task_vec: np.ndarray,
        shown: Sequence[Mapping[str, Any]],
        reward: float,
        credit: np.ndarray,
    ) -> None:
        """One weighted logistic (BCE) step on the shown cases, each weighted by its credit."""
        if not shown:
            return
        x = self.features(task_vec, shown)
        weight = credit * len(shown)
        with self._lock:
            p = _sigmoid(x @ self.weights)
            grad = x.T @ (weight * (p - reward)) / len(shown) + self.l2 * self.weights
            step = self.lr / np.sqrt(1.0 + self.updates / 100.0)
            self.weights -= step * grad
            self.updates += 1

    def state(self) -> dict[str, np.ndarray]:
        """Return the arrays to persist."""
        with self._lock:
            return {"weights": self.weights.copy(), "updates": np.array([self.updates])}

    def load(self, state: dict[str, np.ndarray] | None, version: int | None = None) -> None:
        """Restore persisted arrays (ignored when the feature size differs).

        With `version` (the stored state's), no state means none is stored: start afresh.
        """
        with self._lock:
            if state and state["weights"].shape == self.weights.shape:
                self.weights = state["weights"].astype(np.float64)
                self.updates = int(state["updates"][0])
            elif state is None and version is not None:
                self.weights, self.updates = self._initial(), 0
            if version is not None:
                self.version = version
