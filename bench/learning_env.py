"""A seeded task-family world for the learning benchmark (no language model involved).

Assumptions (stated in the README too):
- F task families (a topic each: "the length of the Danube"), each with S = 3 strategies drawn from six
  approaches (encyclopedia, news, open data, papers, official site, map), one of them right. A task's
  text embeds near its family's centroid (a deterministic "family-structured" embedder stands in for
  MiniLM on tasks); plan steps are embedded with the real all-MiniLM-L6-v2.
- A plan is a strategy's steps, worded by the planner (learning_text.py): copied verbatim ("copy", the
  sanity check) or paraphrased (light, medium, strong: reworded, shuffled, dropped and added steps).
- Following a shown case of the task's own family reuses its strategy; following an unrelated case (or
  none) means a random strategy of the task's family.
- Hidden success: right strategy Q_RIGHT, wrong Q_WRONG, a planted poison shortcut Q_POISON ("large":
  0.9 / 0.2 / 0.02; "small", paper-like: 0.60 / 0.48 / 0.30, a case effect of about 8 points).
- Poison cases: labelled positive, embedded closer to their family centre than any real task (they look
  most similar), and appealing.
- The planner follows one shown case with probability proportional to rank weight (4, 3, 2, 1) x appeal:
  1 for a positive case, 0.3 for a negative one (mostly avoided), x3 for a poison shortcut.
- The planner's attribution is imperfect: it names the case it followed with ATTR_RIGHT, a different
  shown case with ATTR_WRONG, nothing otherwise; each negative case it did not follow is named as avoided
  with AVOID_NAMED.
- The judge is wrong with probability `noise` (both ways); a noisy judge states "high" confidence
  always (its confidence carries no information); with noise 0 the reward is ground truth. As the
  product does by default (Context.judge_samples), the judge is sampled twice: each sample is wrong
  with probability `noise`, and their errors are correlated (JUDGE_CORRELATION 0.5: a judge repeats
  half of its mistakes, so 20% noise gives 12% agreeing wrong, 16% disagreeing); the reward's
  confidence comes from the product's trust.sample_agreement.
The benchmark drives the project's real Memory (Chroma case bank, SQLite experience store, policies,
lifecycle, write-back) through its public API.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from learning_text import APPROACHES, write_plan

EFFECTS = {"large": (0.9, 0.2, 0.02), "small": (0.60, 0.48, 0.30)}
POISON_APPEAL = 3.0
NEGATIVE_APPEAL = (
    0.3  # negative examples are mostly avoided, but still prime the planner now and then
)
ATTR_RIGHT, ATTR_WRONG = 0.6, 0.15  # the planner names the case it followed / another shown case
AVOID_NAMED = 0.5  # a negative case not followed is named as avoided
JUDGE_CORRELATION = 0.5  # the second judge sample repeats the first one's error this often
MODELS = {"planner": "sim", "executor": "sim", "judge": "sim"}


class BenchEmbedder:
    """Deterministic embedder: tasks from the world's table, plan steps from precomputed MiniLM rows."""

    id = "synthetic:families"

    def __init__(self, table: dict[str, np.ndarray], steps: dict[str, np.ndarray]) -> None:
        self.table, self.steps = table, steps

    def embed(self, texts: list[str]) -> np.ndarray:
        """Return the stored unit vector of each text."""
        return np.stack([self.table[t] if t in self.table else self.steps[t] for t in texts])


@dataclass
class World:
    """Families, tasks and the initial case bank of one seed, in one condition."""

    seed: int
    families: int = 25
    strategies: int = 3
    dim: int = 32
    tasks: int = 2000
    level: str = "copy"
    effect: str = "large"
    noise: float = 0.0
    judge_samples: int = 2
    poisons: int | None = None  # default: one family in five has a planted poison case
    seeds_per_family: int = 2
    table: dict[str, np.ndarray] = field(default_factory=dict)
    meaning: dict[str, tuple[int, int | str, list[int]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed)
        self.q_right, self.q_wrong, self.q_poison = EFFECTS[self.effect]
        self.poisons = self.poisons if self.poisons is not None else max(1, self.families // 5)
        self.centres = _unit(rng.normal(size=(self.families, self.dim)))
        self.approaches = [rng.choice(len(APPROACHES), self.strategies, replace=False).tolist()
                           for _ in range(self.families)]  # fmt: skip
        self.right = [a[int(rng.integers(self.strategies))] for a in self.approaches]
        self.task_list = [self._text(rng, int(f), f"task {i}", 0.6) for i, f in
                          enumerate(rng.integers(self.families, size=self.tasks))]  # fmt: skip
        self.initial: list[dict] = []
        for f in range(self.families):
            for j in range(self.seeds_per_family):
                s = self.approaches[f][int(rng.integers(self.strategies))]
                won = rng.random() < (self.q_right if s == self.right[f] else self.q_wrong)
                self.initial.append({"task": self._text(rng, f, f"seed {j}", 0.6)[0],
                                     "plan": self.plan(rng, f, s), "reward": float(won)})  # fmt: skip
        self.poison_tasks = []
        for f in rng.choice(self.families, size=self.poisons, replace=False):
            task = self._text(rng, int(f), "poison", 0.15)[0]
            self.poison_tasks.append(task)
            self.initial.append(
                {"task": task, "plan": self.plan(rng, int(f), "poison"), "reward": 1.0}
            )

    def _text(
        self, rng: np.random.Generator, family: int, name: str, noise: float
    ) -> tuple[str, int]:
        text = f"f{family} {name}"
        vec = self.centres[family] + noise * rng.normal(size=self.dim) / np.sqrt(self.dim)
        self.table[text] = _unit(vec[None, :])[0]
        return text, family

    def plan(
        self, rng: np.random.Generator, family: int, strategy: int | str, like: str | None = None
    ) -> str:
        """Word a plan of a strategy (like the plan `like` when following it); remember its meaning."""
        choice = self.meaning[like][2] if like is not None else None
        text, words = write_plan(rng, family, strategy, self.level, choice)
        self.meaning[text] = (family, strategy, words)
        return text

    def strategy(self, plan: str) -> tuple[int, int | str]:
        """Return the hidden (family, strategy) of a plan the world wrote."""
        family, strategy, _ = self.meaning[plan]
        return family, strategy

    def success_p(self, case_plan: str | None, family: int) -> float:
        """Return the hidden success probability of following a case (None: no case) on a task."""
        if case_plan is not None:
            f, s = self.strategy(case_plan)
            if f == family:
                if s == "poison":
                    return self.q_poison
                return self.q_right if s == self.right[family] else self.q_wrong
        return (self.q_right + (self.strategies - 1) * self.q_wrong) / self.strategies

    def act(self, rng: np.random.Generator, shown: list[dict], family: int) -> dict:
        """Simulate the planner: follow one shown case (or none), write a plan, attribute it.

        Returns plan, won (hidden success 0/1), p (its probability), followed (the case id or None)
        and attribution (the case ids the planner names as followed and avoided).
        """
        pick = None
        if shown:
            weights = np.arange(len(shown), 0, -1) * np.array([_appeal(self, c) for c in shown])
            pick = int(rng.choice(len(shown), p=weights / weights.sum()))
        case = shown[pick] if pick is not None else None
        if case is not None and self.strategy(case["plan"])[0] == family:
            plan = self.plan(rng, family, self.strategy(case["plan"])[1], like=case["plan"])
        else:
            plan = self.plan(
                rng, family, self.approaches[family][int(rng.integers(self.strategies))]
            )
        p = self.success_p(plan, family)
        attribution: dict[str, list[str]] = {"followed": [], "avoided": []}
        if case is not None:
            draw = rng.random()
            others = [c["id"] for c in shown if c["id"] != case["id"]]
            if draw < ATTR_RIGHT:
                attribution["followed"] = [case["id"]]
            elif draw < ATTR_RIGHT + ATTR_WRONG and others:
                attribution["followed"] = [others[int(rng.integers(len(others)))]]
            attribution["avoided"] = [c["id"] for c in shown if c["reward"] < 0.5
                                      and c is not case and rng.random() < AVOID_NAMED]  # fmt: skip
        won = float(rng.random() < p)
        return {"plan": plan, "won": won, "p": p, "followed": case["id"] if case else None,
                "attribution": attribution}  # fmt: skip

    def judge(self, rng: np.random.Generator, won: float) -> tuple[float, dict]:
        """Return the observed reward and its judge record (ground truth, or a noisy LLM judge)."""
        if self.noise <= 0:
            return won, {"source": "ground_truth", "model": None, "rationale": "simulated"}
        from memento_graph.memory.trust import sample_agreement

        wrong = [rng.random() < self.noise]
        if self.judge_samples > 1:
            again = wrong[0] if rng.random() < JUDGE_CORRELATION else rng.random() < self.noise
            wrong.append(again)
        verdicts = [1.0 - won if w else won for w in wrong]
        pick, confidence = sample_agreement(verdicts, ["high"] * len(verdicts))
        record = {"source": "llm_judge", "model": "sim", "rationale": "simulated",
                  "confidence": "high" if len(verdicts) == 1 else confidence,
                  "samples": len(verdicts)}  # fmt: skip
        return verdicts[pick], record


def _appeal(world: World, case: dict) -> float:
    appeal = POISON_APPEAL if world.strategy(case["plan"])[1] == "poison" else 1.0
    return appeal * (1.0 if case["reward"] >= 0.5 else NEGATIVE_APPEAL)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)
