"""Questions already in the case bank an eval starts from: counted, warned about, optionally left out.

`memento eval --cases FILE` starts the memory of every seed from a case file (any `memento cases
import` format). A question whose task is in that file (same text once normalised) or nearly
(cosine >= `--seen-similarity` under the memory's embedder) is answered from memory, so its score
measures recall rather than learning. The file is imported once into its own namespace
(REFERENCE_USER, the yardstick, never written by episodes) and copied from there, embeddings and
all, into each seed's namespace; both steps skip cases already there, so a resumed eval neither
re-embeds nor overwrites what its episodes changed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from memento_graph.scoring import normalize_answer

if TYPE_CHECKING:
    from memento_graph.context import Context
    from memento_graph.eval.datasets import EvalItem
    from memento_graph.eval.harness import EvalConfig
    from memento_graph.memory import Memory

REFERENCE_USER = "eval-cases"
# all-MiniLM-L6-v2, deepresearcher.jsonl against memory.jsonl (1,279 questions share a task's text):
# 7 more reach 0.90 (5 the same question reworded, 2 differing in one word: mother/father,
# enter/leave), 27 reach 0.85 and 52 reach 0.80. Rewordings of one multi-hop question reach down to
# 0.79, mixed with different questions of one template ("author of America" / "Americana", 0.84):
# no line separates them. A false alarm only shrinks the eval a little, a miss leaks an answer,
# so the line is drawn low: about half of the 0.80-0.85 band is the same question reworded.
SEEN_SIMILARITY = 0.8
_BATCH = 512  # questions embedded at a time


@dataclass
class Seen:
    """Questions of an eval found in its starting case bank, by item id."""

    checked: int = 0
    exact: dict[str, str] = field(default_factory=dict)
    near: dict[str, float] = field(default_factory=dict)

    @property
    def count(self) -> int:
        """Return how many questions were found (exact or near)."""
        return len(self.exact) + len(self.near)

    def summary(self, similarity: float, excluded: bool) -> dict[str, Any]:
        """Return the counts for summary.json."""
        return {"checked": self.checked, "exact": len(self.exact), "near": len(self.near),
                "similarity": similarity, "excluded": excluded}  # fmt: skip

    def describe(self, similarity: float) -> str:
        """Return the counts in words."""
        return (
            f"{self.count} of {self.checked} questions are already in the case bank "
            f"({len(self.exact)} same text, {len(self.near)} near-duplicates at similarity "
            f">= {similarity:g})"
        )


def memory_of(base: Context, config: EvalConfig, user: str) -> Memory:
    """Return the memory of one namespace under the eval's data directory."""
    from memento_graph.memory import open_memory

    return open_memory(dataclasses.replace(base, user=user, home=str(Path(config.out) / "home")))


def load_cases(base: Context, config: EvalConfig) -> Memory:
    """Import `--cases` into the reference namespace and copy it into each seed's; return the reference."""
    from memento_graph.eval.agent import arm_context
    from memento_graph.eval.harness import MEMORY_ARM
    from memento_graph.memory.portability import import_cases

    reference = memory_of(base, config, REFERENCE_USER)
    import_cases(reference, Path(str(config.cases)).expanduser())
    cases = reference.bank.all(embeddings=True)
    if config.memory == "none":
        return reference
    for seed in range(config.seeds):
        target = memory_of(base, config, arm_context(base, config, MEMORY_ARM, seed).user)
        with target.lock:
            known = target.bank.existing([c["id"] for c in cases])
            fresh = [c for c in cases if c["id"] not in known]
            if fresh:
                vectors = np.asarray([c["embedding"] for c in fresh], dtype=np.float32)
                target.bank.upsert(fresh, vectors, new=True)
    return reference


def find_seen(items: list[EvalItem], reference: Memory, similarity: float) -> Seen:
    """Return which items' questions are in the reference bank: same text, or similar enough."""
    cases = reference.bank.all(embeddings=True)
    seen = Seen(checked=len(items))
    if not cases or not items:
        return seen
    texts = {normalize_answer(c["task"]) for c in cases}
    matrix = np.asarray([c["embedding"] for c in cases], dtype=np.float32)
    for start in range(0, len(items), _BATCH):
        part = items[start : start + _BATCH]
        best = (reference.embed([i.question for i in part]) @ matrix.T).max(axis=1)
        for item, score in zip(part, best, strict=True):
            if normalize_answer(item.question) in texts:
                seen.exact[item.id] = item.question
            elif score >= similarity:
                seen.near[item.id] = round(float(score), 4)
    return seen


def tell(console: Any, seen: Seen, config: EvalConfig, remain: int) -> None:
    """Say how many questions are seen: a warning, or what was left out; none left is an error."""
    from memento_graph.errors import MementoError

    said = seen.describe(config.seen_similarity)
    if seen.count and config.exclude_seen:
        said += f": left out (--exclude-seen), {remain} remain"
    elif seen.count:
        said = (
            f"warning: {said}: their scores measure recall, not learning; pass --exclude-seen "
            "to leave them out"
        )
    console.print(said, highlight=False, soft_wrap=True)
    if not remain:
        raise MementoError("every question is already in the case bank: nothing to evaluate")


def prepare(
    base: Context, config: EvalConfig, items: list[EvalItem]
) -> tuple[list[EvalItem], Seen]:
    """Seed the memories from `--cases`; return the items to run and what was found seen.

    Without `--exclude-seen` only the items the eval runs (the first `--limit`) are checked.
    """
    reference = load_cases(base, config)
    if not config.exclude_seen:
        return items, find_seen(items[: config.limit] if config.limit else items, reference,
                                config.seen_similarity)  # fmt: skip
    seen = find_seen(items, reference, config.seen_similarity)
    found = seen.exact.keys() | seen.near.keys()
    return [i for i in items if i.id not in found], seen
