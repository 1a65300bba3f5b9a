"""Durability swept, not sampled: SIGKILL `memento run` at every node boundary and inside every node.

Each kill point is reached by a `memento` process and ends it with SIGKILL: node boundaries
and the points inside the memory code through the test hook `MEMENTO_TEST_KILL_AT`
(memento_graph/killpoints.py), the inside of each model-calling node by the scripted server, which
kills the client when the node's request arrives (before any reply). The thread is then resumed
with `memento resume THREAD --json`. A chain of kill points runs on one thread: the resume after
one kill is killed at the next point, so every point is both killed at and resumed from, with one
process per point. Four chains run side by side (separate homes), their processes forked from a
Python that imported the CLI once (forked_cli.py), to keep the sweep fast.

Checked: every process meant to be killed was killed at its point (the model calls made so far
are exactly those before the point), each finished thread has exactly one case and one episode,
and no model call was repeated except the ones a kill cut.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from cli_run import memento
from forked_cli import ForkedCLI
from roles import executing, is_first_plan, is_judge, is_replan, is_synth, plan_reply
from scripted_llm import Reply, ScriptedLLM, request_text

pytestmark = pytest.mark.integration  # processes: see conftest.py

# One run with MEMENTO_MAX_CYCLES=1: plan two dependent subtasks, run them one after the other,
# planning stops (cycles spent: no model call), synthesize asks for the answer, write_memory
# asks the judge and writes the case. In order, every point a kill can hit:
# ("hook", point) is MEMENTO_TEST_KILL_AT, ("model", role) the scripted server on that request.
# One judge sample and no lesson: the sweep counts each model call of the run.
ONE_JUDGE_NO_LESSON = {
    "MEMENTO_MAX_CYCLES": "1",
    "MEMENTO_JUDGE_SAMPLES": "1",
    "MEMENTO_LESSONS": "false",
}
EVENTS = [
    ("hook", "retrieved"),  # inside retrieve_cases
    ("hook", "after:retrieve_cases"),
    ("model", "plan"),
    ("hook", "after:plan"),
    ("hook", "after:dispatch_subtask"),
    ("model", "first"),  # inside subtask 1.1 (execute_with_tools)
    ("hook", "after:execute_with_tools"),
    ("hook", "after:dispatch_subtask"),
    ("model", "second"),  # inside subtask 1.2
    ("hook", "after:execute_with_tools"),
    ("hook", "after:dispatch_subtask"),
    ("hook", "after:plan"),  # cycles spent: planning stops without a model call
    ("model", "synth"),  # inside synthesize
    ("hook", "after:synthesize"),
    ("model", "judge"),  # inside write_memory
    ("hook", "case_written"),  # the case is stored, the episode not yet
    ("hook", "episode_recorded"),  # case and episode stored, write_memory not checkpointed
    ("hook", "after:write_memory"),
]
ROLES = ("plan", "first", "second", "synth", "judge", "replan")
# Model calls whose result is stored by nothing a resume reads when the kill comes after them:
# killed at case_written, write_memory's judge call is asked again (once).
REDONE = {"case_written": "judge"}

# Four chains: each kills its thread at these points of EVENTS in turn, then resumes it to the end.
CHAINS = {"a": range(0, 5), "b": range(5, 10), "c": range(10, 14), "d": range(14, len(EVENTS))}


@dataclass
class Chain:
    tag: str
    home: Path
    steps: list[int]
    pid: int = 0
    killed_by_server: list[str] = field(default_factory=list)
    cases: list[dict] = field(default_factory=list)

    @property
    def task(self) -> str:
        return f"Where was the treaty of {self.tag.upper()}-town signed? (chain {self.tag})"

    def role(self, req: dict) -> str | None:
        """Return which call of this chain's episode a request is, or None (another chain)."""
        text = request_text(req)
        if f"(chain {self.tag})" not in text and f"lookup {self.tag}" not in text:
            return None
        if executing(f"first lookup {self.tag}")(req):
            return "first"
        if executing(f"second lookup {self.tag}")(req):
            return "second"
        for name, pred in (
            ("plan", is_first_plan),
            ("replan", is_replan),
            ("synth", is_synth),
            ("judge", is_judge),
        ):
            if pred(req):
                return name
        return "other"


def script(llm: ScriptedLLM, chains: list[Chain]) -> dict[str, tuple[Chain, str]]:
    """Script every chain's episode; return the armed model kills (chain tag -> (chain, role))."""
    armed: dict[str, tuple[Chain, str]] = {}
    lock = threading.Lock()

    def should_kill(req: dict) -> bool:
        with lock:
            return any(chain.role(req) == role for chain, role in armed.values())

    def kill(req: dict) -> Reply:
        with lock:
            for tag, (chain, role) in list(armed.items()):
                if chain.role(req) == role:
                    del armed[tag]
                    chain.killed_by_server.append(role)
                    os.kill(chain.pid, signal.SIGKILL)
        return Reply(content="(the client was killed)")

    llm.rule(should_kill, kill, name="kill")
    for chain in chains:
        tag = chain.tag
        llm.rule(
            lambda r, c=chain: c.role(r) == "plan",
            plan_reply(f"first lookup {tag}", (f"second lookup {tag}", [1])),
            name="plan",
        )
        llm.rule(lambda r, c=chain: c.role(r) == "first", Reply(content=f"{tag}: a fact"))
        llm.rule(lambda r, c=chain: c.role(r) == "second", Reply(content=f"{tag}: another fact"))
        llm.rule(lambda r, c=chain: c.role(r) == "synth", Reply(content=f"Town {tag}"))
    llm.rule(
        is_judge,
        Reply(content=json.dumps({"rationale": "the answer names the town", "verdict": "correct"})),
        name="judge",
    )
    return armed


def counts(llm: ScriptedLLM, chain: Chain) -> dict[str, int]:
    """Return this chain's model requests per role (a request cut by a kill counts too)."""
    seen = dict.fromkeys(ROLES, 0)
    for body in llm.requests():
        role = chain.role(body)
        if role is not None:
            seen[role] = seen.get(role, 0) + 1
    return seen


def settled(llm: ScriptedLLM, chain: Chain, want: dict[str, int]) -> dict[str, int]:
    """Return the chain's counts once they reach `want` (the server logs a cut request late) or 2 s pass."""
    deadline = time.monotonic() + 2
    while (got := counts(llm, chain)) != want and time.monotonic() < deadline:
        time.sleep(0.05)
    return got


def expected_after(steps: list[int], upto: int) -> dict[str, int]:
    """Return the model requests per role once the kills at steps[:upto+1] have happened."""
    want = dict.fromkeys(ROLES, 0)
    for kind, name in EVENTS[: steps[upto] + 1]:  # every call up to the point, made once ...
        if kind == "model":
            want[name] += 1
    for step in steps[:upto]:  # ... plus one for every earlier kill that cut a call or lost one
        kind, name = EVENTS[step]
        if kind == "model":
            want[name] += 1
        elif name in REDONE:
            want[REDONE[name]] += 1
    return want


def sweep(llm: ScriptedLLM, chain: Chain, armed: dict, forker: ForkedCLI) -> list[str]:
    """Kill the chain's thread at each of its points in turn, then resume it; return problems."""
    base = {**os.environ, "MEMENTO_HOME": str(chain.home), **ONE_JUDGE_NO_LESSON}
    thread = f"t-{chain.tag}"
    problems = []
    previous = -1
    for i, step in enumerate(chain.steps):
        kind, name = EVENTS[step]
        env = dict(base)
        if kind == "hook":  # the n-th time this process reaches the point
            nth = sum(EVENTS[j] == (kind, name) for j in range(previous + 1, step + 1))
            env["MEMENTO_TEST_KILL_AT"] = f"{name}@{nth}"
        previous = step
        args = ("run", chain.task, "--thread-id", thread) if i == 0 else ("resume", thread)
        chain.pid = forker.start((*args, "--json"), env)
        if kind == "model":
            armed[chain.tag] = (chain, name)
        returncode, out, err = forker.wait(chain.pid)
        where = f"chain {chain.tag}, kill {i + 1} at {kind} {name}"
        if returncode != -signal.SIGKILL:
            problems.append(f"{where}: not killed (exit {returncode}): {err[-800:]}")
            return problems
        want = expected_after(chain.steps, i)
        got = settled(llm, chain, want)
        if got != want:
            problems.append(f"{where}: model requests {got}, expected {want}")
    returncode, out, err = forker.run("resume", thread, "--json", env=base)
    if returncode != 0:  # killed after its last step too: the outcome, not "already done"
        problems.append(f"chain {chain.tag}: resume failed ({returncode}): {err[-800:]}")
    elif json.loads(out)["status"] != "done":
        problems.append(f"chain {chain.tag}: resumed to {out}")
    returncode, out, err = forker.run("threads", env=base)
    if not any(thread in line and "done" in line for line in out.splitlines()):
        problems.append(f"chain {chain.tag}: not listed as done: {out}{err}")
    want = expected_after([*chain.steps, len(EVENTS)], len(chain.steps))
    if counts(llm, chain) != want:
        problems.append(f"chain {chain.tag}: at the end {counts(llm, chain)}, expected {want}")
    returncode, out, err = forker.run("cases", "list", "--json", env=base)
    assert returncode == 0, err
    chain.cases = json.loads(out)
    return problems


def episodes(home: Path) -> list[tuple]:
    with sqlite3.connect(home / "experience.sqlite") as db:
        return db.execute("SELECT thread_id, case_id, reward FROM episodes").fetchall()


@pytest.fixture(scope="module")
def forker(tmp_path_factory: pytest.TempPathFactory):
    forked = ForkedCLI(tmp_path_factory.mktemp("forked"))
    yield forked
    forked.close()


def test_kill_at_every_point_of_a_run_then_resume(llm, home, forker):
    chains = [Chain(tag, home.parent / f"home-{tag}", list(steps)) for tag, steps in CHAINS.items()]
    covered = sorted(s for c in chains for s in c.steps)
    assert covered == list(range(len(EVENTS)))  # every point, once
    armed = script(llm, chains)
    with ThreadPoolExecutor(len(chains)) as pool:
        problems = [
            p for ps in pool.map(lambda c: sweep(llm, c, armed, forker), chains) for p in ps
        ]
    assert not problems, "\n".join(problems)
    for chain in chains:
        assert chain.killed_by_server == [
            n for k, n in (EVENTS[s] for s in chain.steps) if k == "model"
        ]
        assert len(chain.cases) == 1, chain.cases
        case = chain.cases[0]
        assert case["provenance"]["thread_id"] == f"t-{chain.tag}" and case["revisions"] == 0
        assert case["answer"] == f"Town {chain.tag}" and case["reward"] == 1.0
        assert episodes(chain.home) == [(f"t-{chain.tag}", case["id"], 1.0)]


def test_kill_before_the_first_checkpoint_then_run_again(llm, home, forker):
    chain = Chain("z", home, [])
    script(llm, [chain])
    env = {**os.environ, **ONE_JUDGE_NO_LESSON}
    run = ("run", chain.task, "--thread-id", "t-z", "--json")
    code, out, err = forker.run(*run, env={**env, "MEMENTO_TEST_KILL_AT": "thread_started"})
    assert code == -signal.SIGKILL, err
    code, out, err = forker.run("resume", "t-z", env=env)  # nothing checkpointed: nothing to resume
    assert code != 0 and "stopped before its first step" in err and "Traceback" not in err, err
    code, out, err = forker.run(*run, env=env)
    assert code == 0 and json.loads(out)["status"] == "done", err
    assert counts(llm, chain) == {**dict.fromkeys(ROLES, 1), "replan": 0}
    case_id = json.loads(out)["case_id"]
    assert case_id and episodes(home) == [("t-z", case_id, 1.0)]


def write_cases(path: Path, n: int) -> None:
    """Write n cases in memento-graph's JSONL with MiniLM-sized embeddings (reused: no embedding)."""
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(n, 384))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    manifest = {"schema_version": 1, "embedder": "onnx:all-MiniLM-L6-v2", "count": n}
    with path.open("w") as out:
        out.write(json.dumps({"manifest": manifest}) + "\n")
        for i, vec in enumerate(vectors):
            row = {
                "id": f"imp-{i:05d}",
                "task": f"imported task number {i}",
                "plan": json.dumps({"plan": [{"id": 1, "description": f"step {i}"}]}),
                "answer": str(i),
                "reward": 1.0,
                "provenance": {"created_at": "2026-01-01T00:00:00+00:00"},
                "embedding": [round(float(x), 5) for x in vec],
            }
            out.write(json.dumps(row) + "\n")


def test_killed_cases_import_completes_on_rerun_without_duplicates(home, tmp_path, forker):
    from memento_graph.memory.portability import IMPORT_BATCH

    n = 2 * IMPORT_BATCH + IMPORT_BATCH // 2
    path = tmp_path / "cases.jsonl"
    write_cases(path, n)
    env = dict(os.environ)
    killed = forker.run(
        "cases", "import", str(path), env={**env, "MEMENTO_TEST_KILL_AT": "import_batch@2"}
    )
    assert killed[0] == -signal.SIGKILL, killed
    code, out, err = forker.run("cases", "import", str(path), env=env)
    assert code == 0 and f"imported {n - 2 * IMPORT_BATCH} case(s)" in out, out + err
    code, out, err = forker.run("cases", "import", str(path), env=env)
    assert code == 0 and "imported 0 case(s)" in out, out + err
    listed = memento("cases", "list", "--json", "--limit", str(n + 10))  # a fresh interpreter
    assert listed.returncode == 0, listed.stderr
    assert sorted(c["id"] for c in json.loads(listed.stdout)) == [f"imp-{i:05d}" for i in range(n)]
