"""The fixed cost of one `memento run`: a whole CLI process against the bare import of its libraries.

Run by hand: `python bench/overhead.py [--rounds 5]`. In each round, interleaved, one process of:
- `bare`: `python -c "import langgraph.graph, langchain_openai, chromadb"` (the floor);
- `run4`: `memento run` of a task the scripted planner splits into 4 subtasks (no tool calls);
- `notool`: `memento run` of a task the planner answers at once.
Assumptions: a scripted OpenAI-compatible server with 0 latency (tests/scripted_llm.py), so model
time is ~0; the default built-in servers (the ones needing a key stay off); an empty case bank
that fills as the rounds go; the tool catalogue cache warmed by one untimed run (steady state).
Prints the median wall time of each, the ratios run4/bare and notool/bare (target <= 1.5), the
median peak RSS of each process tree (the CLI and its MCP servers, sampled every 20 ms; target
<= 400 MB), and a per-phase breakdown of `run4` from an instrumented copy of the CLI's path.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
TASK4 = "Compare four lakes by depth"
NOTOOL = "Say hello (no tools needed)"
BARE = "import langgraph.graph, langchain_openai, chromadb"


def tree_rss(pid: int) -> int:
    """Return the summed RSS (bytes) of `pid` and all its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo += children.get(p, [])
    return total


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run `cmd`; return its wall time, the peak RSS of its process tree, and its stdout."""
    peak = [0]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss(proc.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate(timeout=600)
    wall = time.perf_counter() - started
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[-2:]} failed ({proc.returncode}): {err[-2000:]}")
    return wall, peak[0], out


def script(llm: object) -> None:
    from roles import answer_reply, is_first_plan, script_task
    from scripted_llm import last_user

    llm.rule(lambda r: is_first_plan(r) and NOTOOL in last_user(r), answer_reply("hello"))
    script_task(llm, ["lake one", "lake two", "lake three", "lake four"], "Baikal")


def phases_child() -> None:
    """The CLI's path for `run4`, instrumented: print the time each phase ended (wall clock)."""
    marks = {"start": time.time()}
    import asyncio

    from memento_graph.agent import open_agent
    from memento_graph.context import Context
    from memento_graph.graph import graph_builder  # noqa: F401 - imported as the CLI's run does

    marks["imports"] = time.time()

    async def main() -> None:
        async with open_agent(Context()) as agent:
            marks["open"] = time.time()

            def on_event(node: str, _value: dict) -> None:
                marks.setdefault(f"after {node}", time.time())

            out = await agent.run(TASK4, on_event=on_event)
            assert out.status == "done", out
            marks["run"] = time.time()
            source = getattr(getattr(agent, "resources", None), "source", None)
            marks["servers up at end of run"] = float(source.ready if source else True)
        marks["close"] = time.time()

    asyncio.run(main())
    import gc

    gc.freeze()
    print(json.dumps(marks), flush=True)


def main(rounds: int, src: str, compare: str | None) -> None:
    from scripted_llm import ScriptedLLM

    llm = ScriptedLLM().start()
    script(llm)
    home = tempfile.mkdtemp(prefix="bench-overhead-")
    env = {
        **os.environ,
        "OPENAI_BASE_URL": llm.base_url,
        "OPENAI_API_KEY": "bench",
        "MEMENTO_HOME": home,
        "LANGSMITH_TRACING": "false",
        "PYTHONPATH": src,
    }
    memento = [sys.executable, "-m", "memento_graph.cli", "run"]
    commands = {
        "bare": [sys.executable, "-c", BARE],
        "run4": [*memento, TASK4, "--json"],
        "notool": [*memento, NOTOOL, "--json"],
    }
    timed(commands["run4"], env)  # untimed: fills the tool catalogue cache, warms the disk
    other = {**env, "PYTHONPATH": compare or ""}
    if compare:  # the same runs on another source tree (e.g. before a change), interleaved
        commands.update({"run4@compare": commands["run4"], "notool@compare": commands["notool"]})
    walls: dict[str, list[float]] = {k: [] for k in commands}
    peaks: dict[str, list[int]] = {k: [] for k in commands}
    phases: list[dict[str, float]] = []
    for _ in range(rounds):
        for name, cmd in commands.items():
            wall, peak, _out = timed(cmd, other if name.endswith("@compare") else env)
            walls[name].append(wall)
            peaks[name].append(peak)
        spawned = time.time()
        wall, _peak, out = timed([sys.executable, __file__, "--phases-child"], env)
        marks = json.loads(out.strip().splitlines()[-1])
        marks["exit"] = spawned + wall
        phases.append(marks)
    llm.stop()
    med = {k: statistics.median(v) for k, v in walls.items()}
    print(f"rounds={rounds}, interleaved; scripted model at 0 latency; source {src}")
    for name in commands:
        mb = statistics.median(peaks[name]) / 2**20
        print(f"{name:14s} median {med[name]:.2f} s  peak RSS of the tree (median) {mb:.0f} MB")
    for name in [n for n in commands if n != "bare"]:
        ratios = [w / b for w, b in zip(walls[name], walls["bare"], strict=True)]
        print(
            f"{name}/bare: ratio of medians {med[name] / med['bare']:.2f}x, "
            f"median of paired ratios {statistics.median(ratios):.2f}x (target <= 1.5)"
        )
    print("phases of run4 (median seconds, each from the end of the previous one):")
    keys = [k for k in phases[0] if k not in ("start", "servers up at end of run")]
    previous = "start"
    for key in keys:
        spans = [p[key] - p[previous] for p in phases if key in p and previous in p]
        print(f"  {key:28s} {statistics.median(spans):.3f}")
        previous = key
    up = sum(p.get("servers up at end of run", 0) for p in phases)
    print(f"  (the tool servers were up by the end of the run in {up:.0f} of {len(phases)} runs)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--src", default=str(ROOT / "src"), help="source tree to measure")
    parser.add_argument("--compare", help="another source tree, run interleaved (e.g. main's)")
    parser.add_argument("--phases-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phases_child:
        phases_child()
    else:
        main(args.rounds, args.src, args.compare)
