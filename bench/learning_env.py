"""A seeded task-family world for the learning benchmark (no model involved).

- F task families; each family has S strategies, one of them right. A task's text embeds near its
  family's centroid (a deterministic "family-structured" embedder stands in for MiniLM).
- A case's plan names its strategy as plan steps. Following a case of the task's own family reuses its
  strategy; following an unrelated case (or no case) means a random strategy of the task's family.
- Hidden success: right strategy 0.9, wrong strategy 0.2, a poison shortcut 0.02. So a (case, task) pair
  succeeds with 0.9 (same family, right strategy), 0.2 (same family, wrong), 0.43 (unrelated: random).
- Planted poison cases: labelled positive, embedded closer to their family centre than any real task
  (they look most similar), and appealing.
- The planner follows one shown case with probability proportional to rank weight (4, 3, 2, 1) x appeal:
  1 for a positive case, 0.3 for a negative one (mostly avoided), x3 for a poison shortcut.
The benchmark drives the project's real Memory (Chroma case bank, SQLite experience store, policies,
lifecycle, write-back) through its public API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

Q_RIGHT, Q_WRONG, Q_POISON = 0.9, 0.2, 0.02
POISON_APPEAL = 3.0
NEGATIVE_APPEAL = (
    0.3  # negative examples are mostly avoided, but still prime the planner now and then
)
JUDGE = {"source": "ground_truth", "model": None, "rationale": "simulated"}
MODELS = {"planner": "sim", "executor": "sim", "judge": "sim"}
_PLAN = re.compile(r"family f(\d+) strategy (\w+)")


def plan_text(family: int, strategy: int | str) -> str:
    """Return a plan for a strategy: steps whose words name it (so plans of one strategy overlap)."""
    if strategy == "poison":
        return f"family f{family} strategy poison: shortcut f{family}x guess f{family}y answer directly"
    tag = f"f{family}s{strategy}"
    return f"family f{family} strategy {strategy}: step {tag}a then {tag}b then {tag}c then {tag}d"


def parse_plan(plan: str) -> tuple[int, str]:
    """Return (family, strategy) named by a plan."""
    match = _PLAN.search(plan)
    return int(match.group(1)), match.group(2)


class FamilyEmbedder:
    """Deterministic embedder: looks texts up in the world's table (id recorded like a real one)."""

    id = "synthetic:families"

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        self.table = table

    def embed(self, texts: list[str]) -> np.ndarray:
        """Return the stored unit vector of each text."""
        return np.stack([self.table[t] for t in texts])


@dataclass
class World:
    """Families, tasks and the initial case bank of one seed."""

    seed: int
    families: int = 25
    strategies: int = 3
    dim: int = 32
    tasks: int = 2000
    poisons: int | None = None  # default: one family in five has a planted poison case
    seeds_per_family: int = 2
    table: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        self.poisons = self.poisons if self.poisons is not None else max(1, self.families // 5)
        self.centres = _unit(rng.normal(size=(self.families, self.dim)))
        self.right = rng.integers(self.strategies, size=self.families)
        self.task_list = [self._text(rng, int(f), f"task {i}", 0.6) for i, f in
                          enumerate(rng.integers(self.families, size=self.tasks))]  # fmt: skip
        self.initial: list[dict] = []
        for f in range(self.families):
            for j in range(self.seeds_per_family):
                s = int(rng.integers(self.strategies))
                won = rng.random() < (Q_RIGHT if s == self.right[f] else Q_WRONG)
                self.initial.append({"task": self._text(rng, f, f"seed {j}", 0.6)[0],
                                     "plan": plan_text(f, s), "reward": float(won)})  # fmt: skip
        self.poison_tasks = []
        for f in rng.choice(self.families, size=self.poisons, replace=False):
            task = self._text(rng, int(f), "poison", 0.15)[0]
            self.poison_tasks.append(task)
            self.initial.append({"task": task, "plan": plan_text(int(f), "poison"), "reward": 1.0})

    def _text(
        self, rng: np.random.Generator, family: int, name: str, noise: float
    ) -> tuple[str, int]:
        text = f"f{family} {name}"
        vec = self.centres[family] + noise * rng.normal(size=self.dim) / np.sqrt(self.dim)
        self.table[text] = _unit(vec[None, :])[0]
        return text, family

    def success_p(self, case_plan: str | None, family: int) -> float:
        """Return the hidden success probability of following a case (None: no case) on a task."""
        if case_plan is not None:
            f, s = parse_plan(case_plan)
            if f == family:
                if s == "poison":
                    return Q_POISON
                return Q_RIGHT if int(s) == self.right[family] else Q_WRONG
        return (Q_RIGHT + (self.strategies - 1) * Q_WRONG) / self.strategies

    def act(self, rng: np.random.Generator, shown: list[dict], family: int) -> tuple[str, float]:
        """Simulate the planner: follow one shown case (or none); return (plan, success 0/1)."""
        followed = None
        if shown:
            appeal = np.array([_appeal(c) for c in shown])
            weights = np.arange(len(shown), 0, -1) * appeal
            followed = shown[rng.choice(len(shown), p=weights / weights.sum())]["plan"]
        if followed is not None and parse_plan(followed)[0] == family:
            plan = followed
        else:
            plan = plan_text(family, int(rng.integers(self.strategies)))
        return plan, float(rng.random() < self.success_p(plan, family))


def _appeal(case: dict) -> float:
    appeal = POISON_APPEAL if "poison" in case["plan"] else 1.0
    return appeal * (1.0 if case["reward"] >= 0.5 else NEGATIVE_APPEAL)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)
