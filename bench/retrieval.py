"""Retrieval benchmark: top-4 over 100k cases (p50/p95, without embedding) and embedding throughput.

    MEMENTO_EMBEDDING_MODEL_DIR=../shared/models/all-MiniLM-L6-v2 python bench/retrieval.py [--cases N]

The learned policy is timed twice: on an empty experience store, and after --episodes episodes of
history (4 retrievals of random cases each, some credited): it reads the candidates' records,
the peers' level and the trial check.

Cases get clustered random 384-d unit vectors (embedding 100k texts would only measure the embedder);
queries are fresh vectors near the clusters. Embedding throughput uses real questions (MiniLM, ONNX).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault(
    "MEMENTO_EMBEDDING_MODEL_DIR", str(ROOT.parent / "shared/models/all-MiniLM-L6-v2")
)
QUESTIONS = ROOT.parent / "shared" / "data" / "memento" / "deepresearcher.jsonl"


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def percentiles(samples: list[float]) -> str:
    ms = np.array(samples) * 1000
    return f"p50 {np.percentile(ms, 50):.2f} ms, p95 {np.percentile(ms, 95):.2f} ms"


def fill(memory, n: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    centres = unit(rng.normal(size=(500, 384)))
    start, batch = time.perf_counter(), 4000
    for lo in range(0, n, batch):
        size = min(batch, n - lo)
        vecs = unit(centres[rng.integers(500, size=size)] + 0.5 * rng.normal(size=(size, 384)) / 20)
        cases = [{"id": f"c{lo + i}", "task": f"synthetic task {lo + i}", "plan": "p", "reward": float(i % 2),
                  "status": "active", "judge": {}, "provenance": {"created_at": "2025-01-01T00:00:00"}}
                 for i in range(size)]  # fmt: skip
        memory.bank.upsert(cases, vecs, new=True)
    return centres, time.perf_counter() - start


def history(memory, n: int, cases: int, rng: np.random.Generator) -> float:
    """Write n synthetic episodes with 4 credited retrievals each straight into the store."""
    start, batch = time.perf_counter(), 5000
    for lo in range(0, n, batch):
        size = min(batch, n - lo)
        episodes = [{"thread_id": f"e{lo + i}", "user": memory.user, "task": "t", "plan": "p",
                     "reward": float(rng.random() < 0.7), "policy": "learned", "status": "done",
                     "created_at": f"2025-01-01T00:00:{lo + i:09d}"} for i in range(size)]  # fmt: skip
        picks = rng.integers(cases, size=(size, 4))
        retrievals = [{"thread_id": f"e{lo + i}", "case_id": f"c{c}", "user": memory.user,
                       "rank": r + 1, "credit": float(rng.random() < 0.3), "policy": "learned"}
                      for i in range(size) for r, c in enumerate(dict.fromkeys(picks[i]))]  # fmt: skip
        with memory.store.lock:
            memory.store.db["episodes"].insert_all(episodes)
            memory.store.db["retrievals"].insert_all(retrievals)
    return time.perf_counter() - start


def time_retrieve(memory, embedder, queries: np.ndarray, policy: str) -> str:
    """Time Memory.retrieve for each query (its embedding cached: retrieval only)."""
    times = []
    for i, q in enumerate(queries):
        text = f"query {i}"
        embedder._cache[text] = q  # noqa: SLF001 - pre-embedded: measure retrieval only
        t = time.perf_counter()
        memory.retrieve(text, 4, policy)
        times.append(time.perf_counter() - t)
    return percentiles(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--episodes", type=int, default=100_000)
    args = parser.parse_args()
    from memento_graph.memory.core import Memory
    from memento_graph.memory.embeddings import make_embedder

    rng = np.random.default_rng(0)
    embedder = make_embedder("all-MiniLM-L6-v2")
    with tempfile.TemporaryDirectory() as home:
        memory = Memory(Path(home), "bench", embedder)
        centres, took = fill(memory, args.cases, rng)
        print(f"inserted {args.cases} cases in {took:.1f} s ({args.cases / took:.0f} cases/s)")
        queries = unit(
            centres[rng.integers(500, size=args.queries)]
            + 0.03 * rng.normal(size=(args.queries, 384))
        )
        for label, status in (("top-4 active cases", "active"), ("top-4 any status", None)):
            times = []
            for q in queries:
                t = time.perf_counter()
                memory.bank.query(q, 4, status=status)
                times.append(time.perf_counter() - t)
            print(f"case bank query {label}: {percentiles(times)}")
        for policy in ("similarity", "learned"):  # full retrieve(); the task embedding is cached
            took = time_retrieve(memory, embedder, queries, policy)
            print(f"Memory.retrieve({policy}), embedding cached, no history: {took}")
        took = history(memory, args.episodes, args.cases, rng)
        print(f"wrote {args.episodes} episodes of history in {took:.1f} s")
        took = time_retrieve(memory, embedder, queries, "learned")
        print(f"Memory.retrieve(learned), embedding cached, {args.episodes} episodes: {took}")
    texts = [json.loads(line)["question"] for line in QUESTIONS.open()][:1024]
    embedder.inner.embed(texts[:64])  # warm up
    t = time.perf_counter()
    embedder.inner.embed(texts)
    rate = len(texts) / (time.perf_counter() - t)
    single = []
    for text in texts[:100]:
        t = time.perf_counter()
        embedder.inner.embed([text])
        single.append(time.perf_counter() - t)
    print(
        f"embedding throughput (MiniLM ONNX, batches of 32, {os.cpu_count()} cores): {rate:.0f} texts/s"
    )
    print(f"embedding one question: {percentiles(single)}")


if __name__ == "__main__":
    main()
