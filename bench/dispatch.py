"""Parallel subtasks vs concurrency 1: 4 independent subtasks, 300 ms server latency per call.

Run by hand: `python bench/dispatch.py [--rounds 5]`. Prints the median time of the subtask phase
(first executor request to last executor reply) and of the whole run, for both settings, measured
side by side (interleaved) in one process, and their ratios. Target: subtask phase >= 3.0x.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ["LANGSMITH_TRACING"] = "false"
os.environ["MEMENTO_DISABLE_SERVERS"] = "all"

from roles import is_executor, script_task  # noqa: E402
from scripted_llm import ScriptedLLM  # noqa: E402

LATENCY = 0.3


async def one_run(llm: ScriptedLLM, concurrency: int, home: str) -> tuple[float, float]:
    from memento_graph.agent import open_agent
    from memento_graph.context import Context

    llm.reset()
    script_task(llm, ["alpha", "beta", "gamma", "delta"], "done", latency=LATENCY)
    for rule in llm.rules:
        rule.reply.latency = LATENCY  # every call costs 300 ms
    ctx = Context(policy="none", concurrency=concurrency, home=home)
    async with open_agent(ctx) as agent:
        t0 = time.perf_counter()
        out = await agent.run("Four independent lookups")
        total = time.perf_counter() - t0
    assert out.status == "done", out
    spans = [(e["start"], e["end"]) for e in llm.log if is_executor(e["body"])]
    return max(e for _, e in spans) - min(s for s, _ in spans), total


async def main(rounds: int) -> None:
    llm = ScriptedLLM().start()
    os.environ["OPENAI_BASE_URL"] = llm.base_url
    os.environ["OPENAI_API_KEY"] = "bench"
    results: dict[int, list[tuple[float, float]]] = {4: [], 1: []}
    with tempfile.TemporaryDirectory() as home:
        await one_run(llm, 4, home)  # warm-up: imports, client connections
        for _ in range(rounds):
            for concurrency in (4, 1):
                results[concurrency].append(await one_run(llm, concurrency, home))
    llm.stop()
    med = {
        c: (statistics.median(p for p, _ in r), statistics.median(t for _, t in r))
        for c, r in results.items()
    }
    print(f"rounds={rounds} latency={LATENCY * 1000:.0f} ms per call, 4 independent subtasks")
    for c in (4, 1):
        print(
            f"concurrency={c}: subtask phase median {med[c][0]:.3f} s, whole run {med[c][1]:.3f} s"
        )
    print(
        f"speed-up: subtask phase {med[1][0] / med[4][0]:.2f}x (target >= 3.0x), "
        f"whole run {med[1][1] / med[4][1]:.2f}x"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args().rounds))
