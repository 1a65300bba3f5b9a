"""A small, fast run of the learning benchmark (bench/learning.py) on the real memory code."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from learning import run_all  # noqa: E402


@pytest.mark.integration  # slow: three policies over many episodes
def test_learned_beats_similarity_beats_no_memory(monkeypatch):
    monkeypatch.setenv("MEMENTO_POLICY_SEED", "7")  # Thompson sampling, reproducibly
    results = run_all(seeds=1, orders=1, tasks=240, families=6, jobs=1,
                      policies=("none", "similarity", "learned"))  # fmt: skip
    # expected success of the plans chosen over the second half: the noise of coin flips left out
    late = {
        p: float(np.mean([np.mean(r["expected"][120:]) for r in runs]))
        for p, runs in results.items()
    }
    assert late["learned"] > late["similarity"] + 0.1
    assert late["similarity"] > late["none"] + 0.02
    poison = results["similarity"][0]["poison"]
    assert poison and all(0 < uses <= 10 for uses in poison.values())  # quarantined within 10 uses
    # the learned policy stops showing poison, but first tries it once more: it is quarantined too
    poison, follows = results["learned"][0]["poison"], results["learned"][0]["follows"]
    assert all(uses > 0 for uses in poison.values()) and all(f <= 10 for f in follows.values())
    for policy in ("similarity", "learned"):  # and good cases are not quarantined along the way
        quarantined, followed = results[policy][0]["false_alarms"]["right"]
        assert followed > 50 and quarantined <= 0.05 * followed


def test_learned_leads_under_paraphrased_plans_and_a_noisy_judge(monkeypatch):
    """Plans reworded, shuffled, dropped and added (medium), the judge wrong 20% of the time."""
    monkeypatch.setenv("MEMENTO_POLICY_SEED", "7")
    results = run_all(seeds=1, orders=1, tasks=200, families=4, jobs=1,
                      policies=("none", "similarity", "learned"), condition="medium_noise20")  # fmt: skip
    late = {p: float(np.mean(runs[0]["expected"][100:])) for p, runs in results.items()}
    assert late["learned"] > late["similarity"] + 0.1
    assert late["learned"] > late["none"] + 0.1
    quarantined, followed = results["learned"][0]["false_alarms"]["right"]
    assert followed > 20 and quarantined <= 0.05 * followed  # a noisy judge spares good cases
