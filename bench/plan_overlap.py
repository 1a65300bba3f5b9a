"""How much do real Memento plans resemble their neighbours' plans? The calibration of memory/credit.py.

Each of the 1,278 cases of Memento's memory.jsonl against its 4 nearest cases by task (all-MiniLM-L6-v2),
and against random cases: token Jaccard of the plans, and the step similarity that credit.py uses
(F1 of best-matching step cosines). Prints percentiles, writes bench/out/plan_overlap.json.

    python bench/plan_overlap.py [--data ../shared/data/memento/memory.jsonl]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from memento_graph.memory.credit import plan_steps, step_similarity  # noqa: E402
from memento_graph.memory.embeddings import make_embedder  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "memento" / "memory.jsonl"
_TOKEN = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an the of to in on for and or is was be by with plan id description step".split()
)


def jaccard(a: str, b: str) -> float:
    """Token Jaccard of two texts (content words)."""
    x, y = (frozenset(t for t in _TOKEN.findall(s.lower()) if t not in _STOP) for s in (a, b))
    return len(x & y) / len(x | y) if x | y else 0.0


def percentiles(values: list[float]) -> dict[str, float]:
    """Return the 5th, 25th, 50th, 75th and 95th percentiles."""
    return {f"p{q}": round(float(np.percentile(values, q)), 3) for q in (5, 25, 50, 75, 95)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--neighbours", type=int, default=4)
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    embedder = make_embedder("all-MiniLM-L6-v2")
    tasks = embedder.embed([r["case"] for r in rows]).astype(np.float64)
    steps = [plan_steps(r["plan"]) for r in rows]
    unique = sorted({s for group in steps for s in group})
    vectors = dict(zip(unique, embedder.embed(unique), strict=True))
    mats = [np.stack([vectors[s] for s in group]).astype(np.float64) for group in steps]
    texts = [" ".join(group) for group in steps]
    sim = tasks @ tasks.T
    np.fill_diagonal(sim, -1.0)
    near = {"task": [], "jaccard": [], "steps": []}
    for i in range(len(rows)):
        for j in np.argsort(-sim[i])[: args.neighbours]:
            near["task"].append(float(sim[i, j]))
            near["jaccard"].append(jaccard(texts[i], texts[j]))
            near["steps"].append(step_similarity(mats[i], mats[j]))
    rng = np.random.default_rng(0)
    rand = {"jaccard": [], "steps": []}
    for _ in range(5000):
        i, j = rng.choice(len(rows), 2, replace=False)
        rand["jaccard"].append(jaccard(texts[i], texts[j]))
        rand["steps"].append(step_similarity(mats[i], mats[j]))
    out = {
        "data": str(args.data.name), "cases": len(rows), "neighbours": args.neighbours,
        "steps_per_plan_median": float(np.median([len(s) for s in steps])),
        "nearest": {k: percentiles(v) for k, v in near.items()},
        "random_pairs": {k: percentiles(v) for k, v in rand.items()},
    }  # fmt: skip
    OUT.mkdir(exist_ok=True)
    (OUT / "plan_overlap.json").write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
