"""The agent on a real local model: per-phase times, calls and tokens per task, context shares.

Run by hand: `python bench/realmodel.py [--tasks 6] [--base-url URL]`. Without `--base-url` it
starts llama.cpp's server (scripts/llama_server.py: SmolLM2-135M-Instruct Q4_1, n_ctx 8192,
2 threads, one slot) on a free port. The math and code servers are on, the rest off; memory
off (policy none) so tasks are independent; default budgets but the planner's (512) and the
executor's (256): a 135M model fills whatever budget it gets.

Assumptions: a 2-core machine with nothing else running; tokens are counted by the server
(usage of each streamed reply); the share of the context is the prompt tokens of a call over
n_ctx; the tool schemas' share is the token count of the executor's tool list (as JSON, through
the server's /tokenize) over n_ctx. A 135M model answers badly: this measures cost, not quality.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
N_CTX = 8192
TASKS = [
    "What is 17 * 23?",
    "Use Python to print the sum of the squares of 1 to 10.",
    "Differentiate x**3 + 2*x with respect to x.",
    "How many days are in 3 weeks?",
    "Compute 2 ** 20 with run_python.",
    "Solve x + 5 = 12 for x.",
]
os.environ["LANGSMITH_TRACING"] = "false"


def start_server() -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "llama_server.py"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/v1/models", timeout=1).status_code == 200:
                return proc, f"{base}/v1"
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("llama.cpp's server did not start")


def count_tokens(base_url: str, text: str) -> int:
    root = base_url.removesuffix("/v1")
    return len(httpx.post(f"{root}/tokenize", json={"content": text}, timeout=30).json()["tokens"])


class Calls:
    """A LangChain callback that records every model call: node, seconds, tokens."""

    def __init__(self) -> None:
        from langchain_core.callbacks import AsyncCallbackHandler

        outer = self
        self.rows: list[dict[str, Any]] = []
        self.started: dict[Any, tuple[str, float]] = {}

        class Handler(AsyncCallbackHandler):
            async def on_chat_model_start(
                self, serialized, messages, *, run_id, metadata=None, **kw
            ):  # noqa: ANN001
                node = (metadata or {}).get("langgraph_node", "?")
                outer.started[run_id] = (node, time.perf_counter())

            async def on_llm_end(self, response, *, run_id, **kw):  # noqa: ANN001
                node, t0 = outer.started.pop(run_id, ("?", time.perf_counter()))
                msg = response.generations[0][0].message
                meta = getattr(msg, "usage_metadata", None) or {}
                outer.rows.append(
                    {
                        "node": node,
                        "seconds": time.perf_counter() - t0,
                        "input": meta.get("input_tokens", 0),
                        "output": meta.get("output_tokens", 0),
                    }
                )

        self.handler = Handler()


async def run_task(task: str, ctx: Any, saver: Any, resources: Any) -> dict[str, Any]:
    from memento_graph.graph import graph_builder

    graph = graph_builder().compile(checkpointer=saver)
    calls = Calls()
    config = resources.config(
        {"configurable": {"thread_id": f"bench-{time.time_ns()}"}, "callbacks": [calls.handler]}
    )
    phases: dict[str, float] = defaultdict(float)
    opened: dict[str, float] = {}
    t0 = time.perf_counter()
    state = {"task": task, "files": [], "ground_truth": None}
    async for chunk in graph.astream(state, config, context=ctx, stream_mode="debug"):
        now = time.perf_counter()
        payload = chunk.get("payload", {})
        if chunk["type"] == "task":
            opened[payload["id"]] = now
        elif chunk["type"] == "task_result" and payload["id"] in opened:
            phases[payload["name"]] += now - opened.pop(payload["id"])
    total = time.perf_counter() - t0
    return {"task": task, "seconds": total, "phases": dict(phases), "calls": calls.rows}


async def main(args: argparse.Namespace) -> None:
    proc = None
    base = args.base_url
    if not base:
        proc, base = start_server()
    os.environ.update(OPENAI_BASE_URL=base, OPENAI_API_KEY="local")
    os.environ["MEMENTO_DISABLE_SERVERS"] = "search,crawl,media,documents,spreadsheet"
    from langchain_core.utils.function_calling import convert_to_openai_tool
    from langgraph.checkpoint.memory import InMemorySaver

    from memento_graph.context import Context
    from memento_graph.resources import Resources
    from memento_graph.tool_source import ToolSource

    home = tempfile.mkdtemp(prefix="bench-realmodel-")
    ctx = Context(
        policy="none",
        home=home,
        planner_model="smollm2",
        executor_model="smollm2",
        judge_model="smollm2",
        planner_max_tokens=args.planner_max_tokens,
        executor_max_tokens=args.executor_max_tokens,
        max_cycles=args.max_cycles,
    )
    results = []
    resources = Resources(ToolSource(ctx))
    try:
        tools = await resources.tools()
        schemas = json.dumps([convert_to_openai_tool(t) for t in tools])
        tool_tokens = count_tokens(base, schemas)
        for task in TASKS[: args.tasks]:
            results.append(await run_task(task, ctx, InMemorySaver(), resources))
            print(f"{results[-1]['seconds']:.1f} s  {task}", flush=True)
    finally:
        await resources.aclose()
        if proc:
            proc.terminate()
    report(results, tool_tokens, len(tools) or None)


def report(results: list[dict[str, Any]], tool_tokens: int, _n: int | None) -> None:
    med = statistics.median
    print(f"\n{len(results)} tasks; median whole task {med(r['seconds'] for r in results):.1f} s")
    phases = sorted({p for r in results for p in r["phases"]})
    print("\nphase              median s   calls/task  in tok/task  out tok/task")
    for phase in phases:
        secs = [r["phases"].get(phase, 0.0) for r in results]
        calls = [[c for c in r["calls"] if c["node"] == phase] for r in results]
        print(
            f"{phase:18} {med(secs):8.2f} {med(len(c) for c in calls):11.1f} "
            f"{med(sum(x['input'] for x in c) for c in calls):12.0f} "
            f"{med(sum(x['output'] for x in c) for c in calls):13.0f}"
        )
    every = [c for r in results for c in r["calls"]]
    shares = [c["input"] / N_CTX for c in every]
    print(
        f"\ncalls per task: median {med(len(r['calls']) for r in results)}, "
        f"max {max(len(r['calls']) for r in results)}"
    )
    print(
        f"prompt share of the {N_CTX}-token context: median {med(shares):.1%}, max {max(shares):.1%}"
    )
    print(f"tool schemas of the executor: {tool_tokens} tokens = {tool_tokens / N_CTX:.1%} of it")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=6)
    parser.add_argument("--base-url", default="")
    parser.add_argument("--planner-max-tokens", type=int, default=512)
    parser.add_argument("--executor-max-tokens", type=int, default=256)
    parser.add_argument("--max-cycles", type=int, default=2)
    asyncio.run(main(parser.parse_args()))
