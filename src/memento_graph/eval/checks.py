"""Checks of `memento eval`'s options and the fields its scores are split by."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from memento_graph.eval.datasets import EvalItem
    from memento_graph.eval.harness import EvalConfig

AUTO_SPLITS = ("data_source", "Level", "topic")


def check_options(config: EvalConfig) -> None:
    """Raise a MementoError for an option out of range."""
    from memento_graph.errors import MementoError
    from memento_graph.eval.metrics import METRICS

    if config.memory not in ("none", "similarity", "learned"):
        raise MementoError(f"--memory must be none, similarity or learned, not {config.memory!r}")
    if config.metric not in METRICS:
        raise MementoError(f"--metric must be one of {', '.join(METRICS)}, not {config.metric!r}")
    if config.metric == "judge" and not config.judge:
        raise MementoError("--metric judge needs the LLM judge: drop --no-judge")
    for name, most in (("iterations", 1000), ("seeds", 1000), ("concurrency", 256)):
        if not 1 <= getattr(config, name) <= most:
            raise MementoError(
                f"--{name} must be between 1 and {most}, got {getattr(config, name)}"
            )
    if Path(config.out).exists() and not Path(config.out).is_dir():
        raise MementoError(f"--out {config.out} is a file: give a folder (made if missing)")
    if config.limit is not None and not 1 <= config.limit <= 10**9:
        raise MementoError(f"--limit must be between 1 and 10^9, got {config.limit}")
    if not 0 < config.seen_similarity <= 1:  # NaN fails too
        raise MementoError(f"--seen-similarity must be in (0, 1], got {config.seen_similarity}")
    if config.exclude_seen and not config.cases:
        raise MementoError("--exclude-seen needs --cases: the case bank the eval starts from")
    if config.cases and not Path(config.cases).expanduser().is_file():
        raise MementoError(f"--cases {config.cases}: no such file")


def split_fields(items: list[EvalItem], split_by: str | None) -> list[str]:
    """Return the item fields to report by: --split-by (checked) or the format's usual one."""
    from memento_graph.errors import MementoError

    present = {k for item in items for k in item.fields}
    if split_by and split_by not in present:
        raise MementoError(
            f"--split-by {split_by!r} is not a field of the data set; "
            f"fields: {', '.join(sorted(present))}"
        )
    chosen = [split_by] if split_by else [f for f in AUTO_SPLITS if f in present][:1]
    if "distribution" in present and "distribution" not in chosen:
        chosen.append("distribution")  # the paper's in- vs out-of-distribution split
    return chosen
