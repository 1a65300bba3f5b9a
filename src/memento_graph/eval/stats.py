"""Bootstrap confidence intervals (percentile method, numpy, seeded)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

RESAMPLES = 2000


@dataclass
class Estimate:
    """A mean with its bootstrap confidence interval over `n` values."""

    mean: float
    low: float
    high: float
    n: int

    def as_dict(self) -> dict[str, float | int]:
        """Return the estimate as a JSON-ready dict, rounded to 4 places."""
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def bootstrap_ci(
    values: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Estimate:
    """Return the mean of `values` and its percentile-bootstrap CI (NaN when empty)."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), 0)
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // data.size)  # bound memory on large data sets
    sizes = [min(chunk, resamples - start) for start in range(0, resamples, chunk)]
    means = np.concatenate(
        [data[rng.integers(0, data.size, (k, data.size))].mean(1) for k in sizes]
    )
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return Estimate(float(data.mean()), float(low), float(high), int(data.size))


def paired_difference_ci(
    treated: Sequence[float],
    control: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = RESAMPLES,
    seed: int = 0,
) -> Estimate:
    """Return the mean gain treated - control over paired items with its bootstrap CI."""
    if len(treated) != len(control):
        raise ValueError("paired samples must have the same length")
    diff = np.asarray(treated, dtype=float) - np.asarray(control, dtype=float)
    return bootstrap_ci(diff, confidence=confidence, resamples=resamples, seed=seed)
