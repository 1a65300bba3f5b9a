"""Learning on a real local model: `memento eval` with similarity vs learned vs a no-memory control.

Run by hand: `python bench/realmodel_learning.py [--items 6] [--iterations 2]`. It starts llama.cpp's
server (scripts/llama_server.py: SmolLM2-135M-Instruct Q4_1, n_ctx 8192, 2 threads, one slot),
samples `--items` questions of the original Memento's deepresearcher.jsonl (seeded), imports the
original case bank memory.jsonl MINUS every case whose question is an eval question, and runs (each
in a fresh home, the bank given with `--cases`, `--exclude-seen` leaving out any question still
near-duplicated in it, so the eval is not contaminated):
  - `memento eval SPLIT --memory similarity --control` (the control is memory off, same schedule);
  - `memento eval SPLIT --memory learned`.
Results land in bench/out/realmodel-learning/ and the headline figures in
bench/results/realmodel_learning.json.

Assumptions: no internet, so the search and crawl tools are off and the model answers from what it
knows plus the retrieved cases; budgets are small (planner 512, executor 256 tokens, one cycle) so a
run fits the machine; the judge is the same 135M model, so judge scores are weak evidence and EM /
F1 against the data set's ground truth are the figures to read. A 135M model knows little: a flat
result is an honest outcome, not a bug.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from realmodel import start_server  # llama.cpp's server on a free port (bench/realmodel.py)

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "memento"
OUT = ROOT / "bench" / "out" / "realmodel-learning"
RESULTS = ROOT / "bench" / "results" / "realmodel_learning.json"


def write_split(items: int, seed: int, folder: Path) -> tuple[Path, Path, int]:
    """Write the eval split and the case bank minus its questions; return both and the removed count."""
    questions = [json.loads(line) for line in (DATA / "deepresearcher.jsonl").open()]
    chosen = random.Random(seed).sample(questions, items)
    asked = {q["question"].strip().lower() for q in chosen}
    split = folder / "split.jsonl"
    split.write_text("".join(json.dumps(q) + "\n" for q in chosen))
    cases = [json.loads(line) for line in (DATA / "memory.jsonl").open()]
    kept = [c for c in cases if c["case"].strip().lower() not in asked]
    bank = folder / "memory-minus-eval.jsonl"
    bank.write_text("".join(json.dumps(c) + "\n" for c in kept))
    return split, bank, len(cases) - len(kept)


def memento(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run the CLI; print its last lines."""
    proc = subprocess.run(
        [sys.executable, "-m", "memento_graph.cli", *args], env=env, capture_output=True, text=True
    )
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-30:]
    print(f"$ memento {' '.join(args)}  -> exit {proc.returncode}\n" + "\n".join(tail), flush=True)
    return proc


def arm(name: str, policy: str, control: bool, split: Path, bank: Path, env: dict, n: int) -> dict:
    """Run one eval in a fresh home with the filtered case bank imported; return its summary."""
    home = tempfile.mkdtemp(prefix=f"bench-rml-{name}-")
    env = {**env, "MEMENTO_HOME": home}
    out = OUT / name
    extra = ["--control"] if control else []
    args = [str(split), "--memory", policy, "-n", str(n), "--concurrency", "1", "--out", str(out)]
    args += ["--cases", str(bank), "--exclude-seen"]  # each seed starts from the bank
    memento(["eval", *args, *extra], env)
    summary = json.loads((out / "summary.json").read_text())
    return {
        arm_name: [
            {"iteration": it["iteration"], **{k: v["mean"] for k, v in it["metrics"].items()}}
            for it in data["iterations"]
        ]
        for arm_name, data in summary["arms"].items()
    }


def main() -> None:
    """Start the model, write the split, run the arms, record the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=6)
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    split, bank, removed = write_split(args.items, args.seed, OUT)
    proc, base = start_server()
    env = {
        **os.environ,
        "OPENAI_BASE_URL": base,
        "OPENAI_API_KEY": "local",
        "LANGSMITH_TRACING": "false",
        "MEMENTO_PLANNER_MODEL": "smollm2",
        "MEMENTO_EXECUTOR_MODEL": "smollm2",
        "MEMENTO_JUDGE_MODEL": "smollm2",
        "MEMENTO_PLANNER_MAX_TOKENS": "512",
        "MEMENTO_EXECUTOR_MAX_TOKENS": "256",
        "MEMENTO_MAX_CYCLES": "1",
        "MEMENTO_DISABLE_SERVERS": "search,crawl,media,documents,spreadsheet,code",
    }
    started = time.time()
    try:
        figures = {
            "similarity": arm("similarity", "similarity", True, split, bank, env, args.iterations),
            "learned": arm("learned", "learned", False, split, bank, env, args.iterations),
        }
    finally:
        proc.terminate()
    record = {
        "items": args.items,
        "iterations": args.iterations,
        "seed": args.seed,
        "cases_removed_as_eval_questions": removed,
        "minutes": round((time.time() - started) / 60, 1),
        "arms": figures,
    }
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
