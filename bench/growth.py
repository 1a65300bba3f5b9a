"""Growth benchmark: per-task memory costs, `cases list`, `cases stats` and import, by bank size.

    python bench/growth.py [--sizes 0,10000,100000] [--tasks 30] [--warmup 20] [--reads 7]

Assumptions (run by hand, not in tests):
- Every bank is built and queried with a deterministic fake embedder (384-d unit vectors, hash-seeded
  around 500 cluster centres): MiniLM costs the same ~5 ms per text at every size, so it would only
  dilute the ratios; 100k real embeddings would take ~10 min to build.
- A bank of size N holds N cases, imported from one original-format JSONL file (that import is timed:
  "build"), and N episodes of history with up to 4 retrievals each, ~30% credited, written straight
  into the experience store. The "over" bank is the same but with MEMENTO_MAX_CASES = 90% of N, so
  its first task retires a batch down to 95% of capacity: that one-off is reported apart, the medians
  are over the tasks after it, and "amortised" spreads it over the max_cases/20 tasks until the next.
- Every bank first runs --warmup untimed tasks, so the "empty" bank is a new user's after its first
  tasks (a full candidate pool, usage to read, a first page to print), not a no-op.
- A task is what the graph's retrieve_cases and write_memory nodes ask of memory (no model calls):
  Memory.retrieve(task, 4, "learned"), then Memory.complete_episode(...) with those cases shown.
- `cases list` (first page) and `cases stats` run in-process through typer's CliRunner on the bench's
  memory: the ~1.5 s process start (imports) is the same at every size and not counted.
- "import" is a fresh 1,000-case file imported into each bank (median of --imports files).
- Measurements are interleaved over the sizes (paired rounds in one invocation); medians, and the
  ratio to the empty bank. Targets: every ratio <= 1.5x, list and stats <= 0.5 s at 100k.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("LANGSMITH_TRACING", "false")
RESULTS = ROOT / "bench" / "results" / "growth.json"


class FakeEmbedder:
    """Hash-seeded 384-d unit vectors around 500 centres: deterministic, ~20 us per text."""

    id = "bench:hashed-384"

    def __init__(self) -> None:
        self.centres = np.random.default_rng(0).normal(size=(500, 384)).astype(np.float32)

    def embed(self, texts: list[str]) -> np.ndarray:
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "little")
            rows.append(
                self.centres[seed % 500] + 0.5 * np.random.default_rng(seed).normal(size=384)
            )
        x = np.asarray(rows, dtype=np.float32).reshape(len(texts), 384)
        return x / np.linalg.norm(x, axis=1, keepdims=True)


def case_file(path: Path, n: int, tag: str) -> Path:
    """Write n original-format cases ({question, plan, reward}) to path."""
    with path.open("w") as out:
        for i in range(n):
            step = {"id": 1, "description": f"search for topic {i % 997} and read result {i}"}
            row = {"question": f"{tag} task {i} about topic {i % 997}",
                   "plan": json.dumps({"plan": [step]}), "reward": int(i % 3 != 0)}  # fmt: skip
            out.write(json.dumps(row) + "\n")
    return path


def build(home: Path, user: str, n: int, max_cases: int) -> tuple:
    """Return a Memory of n imported cases and n episodes of history, and the import's seconds."""
    from memento_graph.memory.core import Memory
    from memento_graph.memory.portability import import_cases

    home = home / user  # its own Chroma and store: where-filters cost with every collection's cases
    home.mkdir(parents=True)
    memory = Memory(home, user, FakeEmbedder(), max_cases=max_cases)
    took = 0.0
    if n:
        path = case_file(home / f"{user}.jsonl", n, user)
        start = time.perf_counter()
        import_cases(memory, path)
        took = time.perf_counter() - start
    ids, rng = memory.bank.ids(), np.random.default_rng(1)
    for lo in range(0, n, 5000):
        size = min(5000, n - lo)
        rewards = (rng.random(size) < 0.7).astype(float)
        episodes = [{"thread_id": f"{user}-h{lo + i}", "user": user, "task": "t", "plan": "p",
                     "reward": rewards[i], "policy": "learned", "status": "done",
                     "created_at": f"2025-01-01T00:00:{lo + i:09d}"} for i in range(size)]  # fmt: skip
        picks = rng.integers(len(ids), size=(size, 4))
        shown = [{"thread_id": f"{user}-h{lo + i}", "case_id": ids[c], "user": user, "rank": r + 1,
                  "credit": float(rng.random() < 0.3), "policy": "learned", "reward": rewards[i]}
                 for i in range(size) for r, c in enumerate(dict.fromkeys(picks[i]))]  # fmt: skip
        db = memory.store.db.db  # the SQLite store's sqlite-utils Database
        with memory.store.lock, db.conn:
            db["episodes"].insert_all(episodes)
            db["retrievals"].insert_all(shown)
    return memory, took


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def task(memory, n: int) -> tuple[float, float]:
    """Run one task's memory work; return (retrieve, write_memory) seconds."""
    text = f"new task {n} about topic {n % 997}"
    took_r, shown = timed(memory.retrieve, text, 4, "learned")
    judge = {"source": "ground_truth", "model": None, "rationale": "bench"}
    took_w, _ = timed(
        memory.complete_episode, thread_id=f"task-{memory.user}-{n}", task=text,
        plan=json.dumps({"plan": [{"id": 1, "description": f"look up topic {n % 997}"}]}),
        answer="a", reward=float(n % 4 != 0), judge=judge, retrieved=shown, policy="learned",
        models={"planner": "m"},
    )  # fmt: skip
    return took_r, took_w


def command(memory, *args: str) -> float:
    """Time one `memento cases ...` command in-process on this memory."""
    from typer.testing import CliRunner

    from memento_graph.commands import cases

    cases._memory = lambda user: memory  # noqa: SLF001 - the bench's memory, not one from MEMENTO_HOME
    took, result = timed(CliRunner().invoke, cases.app, list(args))
    if result.exit_code != 0:
        raise RuntimeError(f"cases {' '.join(args)} failed: {result.output} {result.exception!r}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="0,10000,100000")
    parser.add_argument("--tasks", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=20, help="untimed tasks per bank first")
    parser.add_argument("--reads", type=int, default=7, help="runs of cases list / stats per bank")
    parser.add_argument("--imports", type=int, default=3, help="1,000-case files imported per bank")
    args = parser.parse_args()
    from memento_graph.memory.portability import import_cases

    sizes = [int(s) for s in args.sizes.split(",")]
    home = Path(tempfile.mkdtemp(prefix="growth-"))
    banks, builds = {}, {}
    for n in sizes:
        for kind in ("normal", "over") if n else ("normal",):
            max_cases = int(0.9 * n) if kind == "over" else 10**9
            t0 = time.perf_counter()
            banks[kind, n], builds[kind, n] = build(home, f"{kind}{n}", n, max_cases)
            print(f"built {kind} {n}: import {builds[kind, n]:.1f} s, all {time.perf_counter() - t0:.1f} s",
                  flush=True)  # fmt: skip
    samples: dict[tuple, list[float]] = {}
    one_off = {}
    for key, memory in banks.items():  # the over-capacity banks retire their batch here
        one_off[key] = sum(task(memory, -1))
        print(f"first task {key}: {one_off[key]:.2f} s", flush=True)
    for r in range(args.warmup):  # the empty bank gets a few cases, so its pool is full too
        for memory in banks.values():
            task(memory, -2 - r)
    for r in range(args.tasks):
        for key, memory in banks.items():
            took_r, took_w = task(memory, r)
            samples.setdefault((*key, "retrieve"), []).append(took_r)
            samples.setdefault((*key, "write_memory"), []).append(took_w)
    for _ in range(args.reads):
        for key, memory in banks.items():
            samples.setdefault((*key, "cases list"), []).append(command(memory, "list"))
            samples.setdefault((*key, "cases stats"), []).append(command(memory, "stats"))
    for r in range(args.imports):
        for key, memory in banks.items():
            path = case_file(memory.home / f"add-{r}.jsonl", 1000, f"add{r}")
            samples.setdefault((*key, "import 1k"), []).append(timed(import_cases, memory, path)[0])
    report(sizes, samples, one_off, builds, banks, args)


def report(sizes, samples, one_off, builds, banks, args) -> None:
    """Print medians and ratios to the empty bank; save them to bench/results/growth.json."""
    rows = []
    for kind, n, what in sorted(samples, key=lambda k: (k[2], k[0] != "normal", k[1])):
        median = statistics.median(samples[kind, n, what])
        base = statistics.median(samples["normal", sizes[0], what])
        rows.append({"bank": kind, "size": n, "what": what, "median_s": round(median, 5),
                     "ratio": round(median / base, 2)})  # fmt: skip
        print(
            f"{what:13s} {kind:6s} {n:>7,}: median {median * 1000:9.1f} ms  x{median / base:5.2f}"
        )
    extra = {}
    for (kind, n), memory in banks.items():
        if kind == "over":
            per = one_off[kind, n] / max(memory.max_cases // 20, 1)
            extra[f"over {n}"] = {"max_cases": memory.max_cases, "first_task_s": round(one_off[kind, n], 2),
                                  "amortised_ms_per_task": round(per * 1000, 2),
                                  "active_after": len(memory.bank.ids(status="active"))}  # fmt: skip
            print(f"over {n:,}: first task (batched retire) {one_off[kind, n]:.2f} s, "
                  f"amortised over {memory.max_cases // 20} tasks: {per * 1000:.2f} ms/task")  # fmt: skip
        if n:
            print(
                f"build {kind} {n:,}: import of {n:,} cases from one file {builds[kind, n]:.1f} s"
            )
            extra[f"build {kind} {n}"] = round(builds[kind, n], 1)
    RESULTS.parent.mkdir(exist_ok=True)
    meta = {"sizes": sizes, "tasks": args.tasks, "reads": args.reads, "cpus": os.cpu_count(),
            "load_average": os.getloadavg()}  # fmt: skip
    RESULTS.write_text(json.dumps({"run": meta, "rows": rows, "extra": extra}, indent=1) + "\n")
    print(f"saved {RESULTS}")


if __name__ == "__main__":
    main()
