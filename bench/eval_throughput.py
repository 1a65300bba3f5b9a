"""`memento eval` throughput: a whole process at concurrency 4 against concurrency 1.

Run by hand: `python bench/eval_throughput.py [--rounds 2] [--items 40]`. Each round runs, in
turn (interleaved), `memento eval` of the same data set with `--concurrency 4` and `--concurrency
1`, each in a fresh output folder, and times the whole process (start, imports, every item, the
summary and the plot, exit). Assumptions: a scripted OpenAI-compatible server answering every call
after 0.3 s (tests/scripted_llm.py); each item is one plan, one subtask, one replan and the
eval's LLM judge (4 calls, ~1.2 s of model time); memory on (similarity), default tool servers
(the catalogue cache, in MEMENTO_HOME, warmed by an untimed run). Prints the medians and their
ratio (target >= 3.5x), each process's CPU time (user + system, its children included: robust to
other load on the machine, which stretches the wall times) and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
LATENCY = 0.3


def scripted() -> object:
    from roles import answer_reply, is_executor, is_first_plan, is_grader, is_replan, plan_reply
    from scripted_llm import Reply, ScriptedLLM, system_text

    llm = ScriptedLLM().start()
    grade = {"rationale": "it names the same city", "verdict": "correct"}
    llm.rule(is_grader, Reply(content=json.dumps(grade)))
    # the eval's own grader before judge.py served it (a --src of an older tree)
    llm.rule(lambda r: "You grade a candidate answer" in system_text(r), Reply("CORRECT\nsame"))
    llm.rule(is_first_plan, plan_reply("Look it up"))
    llm.rule(is_executor, Reply(content="found it", latency=LATENCY))
    llm.rule(is_replan, answer_reply("Paris"))
    for rule in llm.rules:
        rule.reply.latency = LATENCY
    return llm


def one_eval(dataset: Path, concurrency: int, env: dict[str, str]) -> tuple[float, float]:
    """Run one `memento eval` process; return its wall time and CPU time."""
    out = Path(tempfile.mkdtemp(prefix=f"bench-eval-c{concurrency}-"))
    cmd = [sys.executable, "-m", "memento_graph.cli", "eval", str(dataset)]
    cmd += ["--out", str(out), "--concurrency", str(concurrency)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    if done.returncode != 0:
        raise SystemExit(f"eval failed: {done.stderr[-2000:]}")
    return wall, cpu


def main(rounds: int, items: int, src: str) -> None:
    llm = scripted()
    folder = Path(tempfile.mkdtemp(prefix="bench-eval-"))
    dataset = folder / "items.jsonl"
    rows = [{"question": f"Question {i}: the capital?", "answers": ["Paris"]} for i in range(items)]
    dataset.write_text("".join(json.dumps(r) + "\n" for r in rows))
    env = {
        **os.environ,
        "OPENAI_BASE_URL": llm.base_url,
        "OPENAI_API_KEY": "bench",
        "MEMENTO_HOME": str(folder / "home"),
        "LANGSMITH_TRACING": "false",
        "PYTHONPATH": src,
    }
    small = folder / "warm.jsonl"
    small.write_text(json.dumps(rows[0]) + "\n")
    one_eval(small, 1, env)  # untimed: the tool catalogue cache, the disk
    walls: dict[int, list[float]] = {4: [], 1: []}
    cpus: dict[int, list[float]] = {4: [], 1: []}
    for _ in range(rounds):
        for concurrency in (4, 1):
            wall, cpu = one_eval(dataset, concurrency, env)
            walls[concurrency].append(wall)
            cpus[concurrency].append(cpu)
            load = os.getloadavg()[0]
            print(
                f"concurrency {concurrency}: {wall:.1f} s, CPU {cpu:.1f} s, load {load:.1f}",
                flush=True,
            )
    llm.stop()
    med = {c: statistics.median(w) for c, w in walls.items()}
    ratios = [one / four for one, four in zip(walls[1], walls[4], strict=True)]
    print(f"{items} items, {LATENCY * 1000:.0f} ms per model call, rounds={rounds}, source {src}")
    print(f"concurrency 4: median {med[4]:.1f} s; concurrency 1: median {med[1]:.1f} s")
    cpu = {c: statistics.median(v) for c, v in cpus.items()}
    print(f"CPU per process (median): concurrency 4 {cpu[4]:.1f} s, concurrency 1 {cpu[1]:.1f} s")
    print(
        f"speed-up (whole process): {med[1] / med[4]:.2f}x, median of paired ratios "
        f"{statistics.median(ratios):.2f}x (target >= 3.5x)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--src", default=str(ROOT / "src"), help="source tree to measure")
    args = parser.parse_args()
    main(args.rounds, args.items, args.src)
