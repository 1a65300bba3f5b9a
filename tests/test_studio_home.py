"""One home for `memento studio` and `memento run`: a real `langgraph dev` and the CLI side by side.

Both processes keep the embedded case bank open; each sees the cases the other writes, and a
thread's status agrees on both sides. Runs through the server are traced like CLI runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path

from langgraph_sdk import get_client

from cli_run import memento
from langsmith_sink import PROJECT_ID, FakeLangSmith
from memento_graph.thread_index import ThreadIndex
from roles import is_executor, script_task
from studio_server import studio
from waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, **env: str) -> tuple[int, str, str]:
    proc = memento(*args, env={**os.environ, "PYTHONPATH": str(ROOT / "src"), **env})
    return proc.returncode, proc.stdout, proc.stderr


def status_in_cli(home: Path, thread_id: str) -> str:
    """The status `memento threads` shows for a thread (its rows, as the command lists them)."""
    [row] = [row for row in ThreadIndex(home).list(1000) if row["thread_id"] == thread_id]
    return row["status"]


def statuses_printed() -> dict[str, str]:
    """The statuses `memento threads` prints, by thread id."""
    code, out, err = cli("threads", COLUMNS="250")
    assert code == 0, err
    cells = [[cell.strip() for cell in line.split("│")] for line in out.splitlines()]
    return {row[1]: row[2] for row in cells if len(row) > 3}


async def test_studio_and_cli_share_the_case_bank_and_thread_status(llm, home):
    script_task(llm, ["look it up"], "Paris")
    with studio(home) as url:
        client = get_client(url=url)
        # Studio writes a case; the CLI, on the same home while the server keeps its client open,
        # is not refused and retrieves it.
        first = (await client.threads.create())["thread_id"]
        out = await client.runs.wait(
            first, "memento", input={"task": "Capital of France?", "ground_truth": "Paris"}
        )
        assert out["case_id"]
        code, stdout, stderr = cli(
            "run", "Which city is the capital of France?", "--ground-truth", "Paris", "--json"
        )
        assert code == 0, stderr
        by_cli = json.loads(stdout)
        assert by_cli["cases_used"] == [out["case_id"]] and by_cli["case_id"] != out["case_id"]
        # ... and Studio retrieves the case the CLI wrote (its client reopened after that write).
        second = (await client.threads.create())["thread_id"]
        await client.runs.wait(
            second, "memento", input={"task": "What city is the capital of France?"}
        )
        state = await client.threads.get_state(second)
        assert by_cli["case_id"] in [c["id"] for c in state["values"]["cases"]]
        # A thread finished in Studio is done in `memento threads`.
        assert status_in_cli(home, first) == "done" and status_in_cli(home, second) == "done"

        # Both write at the same time: each run's executor call takes 1 s.
        script_task(llm, ["look it up"], "Rome", latency=1.0)
        third = (await client.threads.create())["thread_id"]
        before = len(llm.requests(is_executor))
        studio_run = await client.runs.create(
            third, "memento", input={"task": "Capital of Italy?", "ground_truth": "Rome"}
        )
        executing = lambda: len(llm.requests(is_executor)) > before  # noqa: E731
        wait_until(executing, 60, "the Studio run to execute")
        code, stdout, stderr = await asyncio.to_thread(
            cli, "run", "Name the capital of Italy, please.", "--ground-truth", "Rome", "--json"
        )
        assert code == 0, stderr
        await client.runs.join(third, studio_run["run_id"])
        values = (await client.threads.get_state(third))["values"]
        written = {values["case_id"], json.loads(stdout)["case_id"]}
        assert len(written) == 2
        code, stdout, stderr = cli("cases", "list", "--json")
        assert code == 0, stderr
        assert written <= {case["id"] for case in json.loads(stdout)}

        # A CLI thread paused for plan approval is `interrupted` in Studio (the CLI tells the server).
        script_task(llm, ["look it up"], "Rome")
        paused = str(uuid.uuid4())
        code, stdout, stderr = cli(
            "run", "Capital of Spain?", "--approve-plan", "--thread-id", paused
        )
        assert code == 0 and "paused" in stdout, stderr
        assert (await client.threads.get(paused))["status"] == "interrupted"
        assert status_in_cli(home, paused) == "paused"
        await client.runs.wait(
            paused, "memento", command={"resume": "approve"}, context={"approve_plan": True}
        )
        assert (await client.threads.get(paused))["status"] == "idle"
        assert status_in_cli(home, paused) == "done"
        # A thread paused in Studio is paused in `memento threads`.
        in_studio = (await client.threads.create())["thread_id"]
        await client.runs.wait(
            in_studio, "memento", input={"task": "Capital of Peru?"}, context={"approve_plan": True}
        )
        assert (await client.threads.get(in_studio))["status"] == "interrupted"
        assert status_in_cli(home, in_studio) == "paused"
    printed = statuses_printed()
    assert [printed[t] for t in (first, second, paused, in_studio)] == ["done"] * 3 + ["paused"]
    assert ThreadIndex(home).get(in_studio)["task"] == "Capital of Peru?"


async def test_studio_runs_are_traced_like_cli_runs_and_take_user_feedback(llm, home):
    sink = FakeLangSmith()
    traced = {
        "LANGSMITH_TRACING": "true",
        "LANGSMITH_API_KEY": "test",
        "LANGSMITH_ENDPOINT": sink.url,
        "LANGSMITH_PROJECT": "memento-test",
    }
    script_task(llm, ["look it up"], "Paris")
    try:
        with studio(home, **traced) as url:
            client = get_client(url=url)
            first = (await client.threads.create())["thread_id"]
            out = await client.runs.wait(first, "memento", input={"task": "Capital of France?"})
            second = (await client.threads.create())["thread_id"]
            run = await client.runs.create(
                second, "memento", input={"task": "Which city is France's capital?"}
            )
            await client.runs.join(second, run["run_id"])

            def traced_root() -> dict | None:
                roots = [r for r in sink.roots() if r.get("id") == run["run_id"]]
                return roots[0] if roots and roots[0].get("end_time") else None

            wait_until(lambda: traced_root() and sink.feedback(), 30, "the trace and feedback")
        root = traced_root()
        assert root["name"] == "memento run"
        assert {"memento", "policy:similarity", "run"} <= set(root["tags"])
        meta = root["extra"]["metadata"]
        assert meta["thread_id"] == second and meta["policy"] == "similarity"
        assert meta["case_ids"] == [out["case_id"]] and meta["reward"] == 1.0
        names = {r["name"] for r in sink.runs().values()}
        assert {"retrieve_cases", "plan", "planner (gpt-4o-mini)", "judge (gpt-4o-mini)"} <= names
        feedback = [f for f in sink.feedback() if f["run_id"] == run["run_id"]]
        assert [(f["key"], f["score"]) for f in feedback] == [("reward", 1.0)]
        assert feedback[0]["comment"] == "the answer names the right fact"
        assert feedback[0]["session_id"] == PROJECT_ID

        # The user's verdict replaces the judge's on that run, with the note as the comment.
        code, stdout, stderr = cli(
            "feedback", second, "--reward", "0", "--note", "it is Lyon now", **traced
        )
        assert code == 0, stderr
        assert "warning" not in stderr
        stored = sink.stored[feedback[0]["id"]]
        assert stored["score"] == 0 and stored["comment"] == "user: it is Lyon now"
    finally:
        sink.server.shutdown()
