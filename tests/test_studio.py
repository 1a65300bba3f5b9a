"""`langgraph dev` serving the graph, driven through langgraph-sdk like Studio drives it."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from langgraph_sdk import get_client

from fixtures.mcp_support import write_mcp_json
from memento_graph.commands.studio import (
    register_threads,
)
from roles import (
    answer_reply,
    executing,
    is_executor,
    is_first_plan,
    is_replan,
    script_task,
    tool_plan_reply,
)
from scripted_llm import Reply, after_tool
from studio_server import studio

pytestmark = pytest.mark.integration  # processes: see conftest.py

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def server_env() -> dict[str, str]:
    """The server's extra environment (a test may add to it before the server starts)."""
    return {}


@pytest.fixture
def server(llm, home, tmp_path, server_env):
    """`langgraph dev` on a free port with the CLI's data directory; its log under tmp_path."""
    with studio(home, **{"MEMENTO_DISABLE_SERVERS": "all", **server_env}) as url:
        yield url


def interrupts(state: dict) -> list[dict]:
    return [i["value"] for task in state["tasks"] for i in task["interrupts"]]


async def test_sdk_runs_streams_and_resumes_plan_approval(llm, server):
    script_task(llm, ["look it up", "double check"], "Paris")
    client = get_client(url=server)
    [assistant] = await client.assistants.search(graph_id="memento")
    schemas = await client.assistants.get_schemas(assistant["assistant_id"])
    form = schemas["context_schema"]["properties"]
    assert {"planner_model", "top_k", "policy", "max_cycles", "approve_plan"} <= set(form)
    assert form["top_k"]["description"].startswith("How many past cases")

    thread = await client.threads.create()
    out = await client.runs.wait(
        thread["thread_id"],
        "memento",
        input={"task": "Capital of France?", "ground_truth": "Paris"},
    )
    assert out["answer"] == "Paris" and out["reward"] == 1.0 and out["case_id"]

    paused = await client.threads.create()
    nodes = []
    async for chunk in client.runs.stream(
        paused["thread_id"],
        "memento",
        input={"task": "Capital city of France?"},
        context={"approve_plan": True},
        stream_mode="updates",
    ):
        if chunk.event == "updates":
            nodes += list(chunk.data)
    assert nodes == ["retrieve_cases", "plan", "__interrupt__"]
    state = await client.threads.get_state(paused["thread_id"])
    [request] = interrupts(state)
    assert request["kind"] == "plan_approval" and len(request["plan"]) == 2
    assert state["values"]["cases"][0]["id"] == out["case_id"]  # the first run's case
    before = len(llm.requests(is_executor))
    plan = [{"id": 1, "description": "read the atlas", "depends_on": []}]
    done, live = {}, []
    async for chunk in client.runs.stream(  # the live progress events reach SDK clients too
        paused["thread_id"],
        "memento",
        command={"resume": {"action": "edit", "plan": plan}},
        context={"approve_plan": True},
        stream_mode=["values", "custom"],
    ):
        if chunk.event == "values":
            done = chunk.data
        elif chunk.event == "custom":
            live.append(chunk.data)
    assert done["answer"] == "Paris"
    assert {"event": "subtask_started", "subtask": "1.1", "description": "read the atlas"} in live
    assert len(llm.requests(is_executor)) == before + 1
    assert len(llm.requests(executing("read the atlas"))) == 1


async def test_cli_thread_is_visible_and_resumable_in_studio(llm, home, server):
    script_task(llm, ["look it up"], "Paris")
    thread_id = str(uuid.uuid4())
    cli = subprocess.run(
        [sys.executable, "-m", "memento_graph.cli", "run", "Capital of France?"]
        + ["--approve-plan", "--thread-id", thread_id],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert cli.returncode == 0 and "paused" in cli.stdout, cli.stderr
    assert register_threads(server, home) == 1
    client = get_client(url=server)
    listed = await client.threads.search(metadata={"source": "memento cli"})
    assert [t["thread_id"] for t in listed] == [thread_id]
    state = await client.threads.get_state(thread_id)
    assert state["values"]["task"] == "Capital of France?"
    assert interrupts(state)[0]["kind"] == "plan_approval" and not llm.requests(is_executor)
    done = await client.runs.wait(
        thread_id, "memento", command={"resume": "approve"}, context={"approve_plan": True}
    )
    assert done["answer"] == "Paris" and len(llm.requests(is_executor)) == 1


@pytest.fixture
def spawns(tmp_path, server_env) -> Path:
    """The file the fixture MCP server (from the server's mcp.json) appends a line to per start."""
    spawns = tmp_path / "spawns.txt"
    config = write_mcp_json(
        tmp_path / "mcp.json", FIXTURE_WORD="kestrel", FIXTURE_SPAWNS=str(spawns)
    )
    server_env["MEMENTO_MCP_CONFIG"] = str(config)
    return spawns


async def test_runs_of_one_server_share_its_tool_servers(llm, home, spawns, server):
    llm.rule(is_first_plan, tool_plan_reply(("Find the word under key k1", ["lookup_word"])))
    llm.rule(
        lambda r: is_executor(r) and not after_tool(r),
        Reply(tool_calls=[("lookup_word", {"key": "k1"})]),
    )
    llm.rule(is_executor, lambda r: Reply(content=r["messages"][-1]["content"]))
    llm.rule(is_replan, answer_reply("kestrel"))
    client = get_client(url=server)
    for question in ("What is the word under key k1?", "And under key k1 again?"):
        thread = await client.threads.create()
        out = await client.runs.wait(
            thread["thread_id"], "memento", input={"task": question, "ground_truth": "kestrel"}
        )
        assert out["answer"] == "kestrel" and out["reward"] == 1.0
    assert len(llm.requests(after_tool)) == 2  # each run called the fixture server's tool
    assert len(spawns.read_text().splitlines()) == 1  # started once, by the first run
    assert "Slow graph load" not in (home / "logs" / "studio.log").read_text()


def test_studio_refuses_a_port_in_use(home):
    import socket

    from memento_graph.commands.studio import studio
    from memento_graph.errors import MementoError

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(MementoError, match=f"port {port} is in use"):
            studio(port=port)
