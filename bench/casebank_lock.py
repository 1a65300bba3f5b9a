"""The embedded case bank shared by processes: how long a write waits for the lock, what a reopen costs.

Run by hand: `python bench/casebank_lock.py [--processes 2] [--writes 100] [--cases 2000]`.
Assumptions: the case bank of one home is used by a few processes (`memento studio`'s server and
one or two CLI runs); each episode makes one exclusive section like `Memory.complete_episode`
(a duplicate query, an upsert, a metadata update; 384-dimensional vectors) and a few reads (the
retrieval). All processes start together and write back to back, a worst case: real runs write once per
episode, seconds to minutes apart. Prints, over all processes: the median, p95 and max wait for the
exclusive lock, the median time of a write section, and the median cost of a reopen (the first
call after another process wrote); plus a check that every case written is found by a query.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
DIM = 384


def worker(folder: str, name: str, writes: int, queue: Any, start: Any) -> None:
    from memento_graph.memory.chroma_client import LOCK_WAITS, folder_bank

    bank = folder_bank(Path(folder))
    collection = bank.get_or_create_collection(
        "cases-bench", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    collection.count()  # opened and loaded: every process starts writing together
    start.wait()
    LOCK_WAITS.clear()
    sections, reopens = [], []
    for i in range(writes):
        vec = rng.normal(size=DIM).astype(np.float32)
        vec /= np.linalg.norm(vec)
        epoch, started = bank.epoch, time.perf_counter()
        collection.query(query_embeddings=[vec], n_results=4, include=["metadatas"])  # retrieve
        if bank.epoch != epoch:
            reopens.append(time.perf_counter() - started)
        started = time.perf_counter()
        with bank.exclusive():  # as complete_episode: read, decide, write
            collection.query(query_embeddings=[vec], n_results=1, include=["distances"])
            collection.add(ids=[f"{name}-{i}"], embeddings=[vec], metadatas=[{"reward": 1.0}])
            collection.update(ids=[f"{name}-{i}"], metadatas=[{"reward": 0.5}])
        sections.append(time.perf_counter() - started)
    queue.put({"waits": list(LOCK_WAITS), "sections": sections, "reopens": reopens})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--writes", type=int, default=100)
    parser.add_argument("--cases", type=int, default=2000, help="cases stored before the run")
    args = parser.parse_args()
    from memento_graph.memory.chroma_client import folder_bank

    with tempfile.TemporaryDirectory() as tmp:
        bank = folder_bank(Path(tmp) / "casebank")
        seed = bank.get_or_create_collection(
            "cases-bench", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )
        vecs = np.random.default_rng(0).normal(size=(args.cases, DIM)).astype(np.float32)
        for start in range(0, args.cases, 1000):
            part = vecs[start : start + 1000]
            seed.add(ids=[f"seed-{start + j}" for j in range(len(part))], embeddings=part)
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        queue, start = ctx.Queue(), ctx.Barrier(args.processes)
        folder = str(Path(tmp) / "casebank")
        procs = [
            ctx.Process(target=worker, args=(folder, f"p{n}", args.writes, queue, start))
            for n in range(args.processes)
        ]
        for p in procs:
            p.start()
        results = [queue.get() for _ in procs]
        for p in procs:
            p.join()
        total = args.cases + args.processes * args.writes
        found = seed.query(query_embeddings=[vecs[0]], n_results=total, include=[])["ids"][0]
    waits = sorted(w for r in results for w in r["waits"])
    sections = [s for r in results for s in r["sections"]]
    reopens = [s for r in results for s in r["reopens"]]
    ms = lambda x: round(1000 * x, 2)  # noqa: E731
    print(
        json.dumps(
            {
                "processes": args.processes,
                "writes_each": args.writes,
                "cases_before": args.cases,
                "lock_wait_ms": {
                    "median": ms(statistics.median(waits)),
                    "p95": ms(waits[int(0.95 * (len(waits) - 1))]),
                    "max": ms(waits[-1]),
                },
                "write_section_ms_median": ms(statistics.median(sections)),
                "reopen_ms_median": ms(statistics.median(reopens)) if reopens else None,
                "reopens": len(reopens),
                "all_cases_found_by_query": len(set(found)) == total,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
