"""Benchmark the toolbox: time until every built-in MCP server is ready, and per-call overhead.

Run by hand: `python bench/tools.py [--rounds 5] [--calls 200]`. Targets: all built-ins ready in
<= 1.5 s (concurrent start); per-call overhead in a persistent session well under 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time

from memento_graph.context import Context
from memento_graph.toolbox import open_toolbox


async def time_ready(home: str, rounds: int) -> tuple[list[float], dict[str, str]]:
    """Open and close the toolbox `rounds` times; return the seconds to ready and the statuses."""
    times, servers = [], {}
    for _ in range(rounds):
        started = time.perf_counter()
        async with open_toolbox(Context(home=home, disable_servers="")) as box:
            times.append(time.perf_counter() - started)
            servers = dict(box.servers)
    return times, servers


async def time_calls(home: str, calls: int) -> dict[str, list[float]]:
    """Call cheap tools `calls` times each in one persistent session; return seconds per call."""
    out: dict[str, list[float]] = {}
    async with open_toolbox(Context(home=home, disable_servers="")) as box:
        probes = {
            "math.evaluate": (box.find("math", "evaluate"), {"expression": "1+1"}),
            "code.list_files": (box.find("code", "list_files"), {}),
            "code.run_python": (box.find("code", "run_python"), {"code": "print(1)"}),
        }
        for label, (tool, args) in probes.items():
            await tool.ainvoke(args)  # warm up (lazy imports)
            n = calls if label != "code.run_python" else max(10, calls // 10)
            samples = []
            for _ in range(n):
                started = time.perf_counter()
                await tool.ainvoke(args)
                samples.append(time.perf_counter() - started)
            out[label] = samples
    return out


def main() -> None:
    """Print median figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--all", action="store_true", help="configure search and media too")
    opts = parser.parse_args()
    os.environ.pop("MEMENTO_DISABLE_SERVERS", None)
    if opts.all:
        os.environ.setdefault("SEARXNG_URL", "http://127.0.0.1:9")
        os.environ.setdefault("MEMENTO_VISION_MODEL", "bench")
    home = tempfile.mkdtemp(prefix="memento-bench-")
    times, servers = asyncio.run(time_ready(home, opts.rounds))
    ready = [name for name, status in servers.items() if status == "ready"]
    print(f"servers ready: {len(ready)} ({', '.join(ready)})")
    print(
        f"time to ready: median {statistics.median(times):.2f} s, min {min(times):.2f} s, "
        f"max {max(times):.2f} s over {len(times)} rounds (target <= 1.5 s)"
    )
    for label, samples in asyncio.run(time_calls(home, opts.calls)).items():
        ms = sorted(s * 1000 for s in samples)
        p95 = ms[int(len(ms) * 0.95) - 1]
        print(
            f"per call {label}: median {statistics.median(ms):.2f} ms, p95 {p95:.2f} ms "
            f"({len(ms)} calls)"
        )


if __name__ == "__main__":
    main()
