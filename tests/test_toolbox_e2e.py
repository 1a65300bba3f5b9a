"""A third-party stdio MCP server from mcp.json, used by the executor in a whole run."""

from __future__ import annotations

import pytest

from fixtures.mcp_support import write_mcp_json
from memento_graph.agent import open_agent
from memento_graph.context import Context
from roles import answer_reply, is_executor, is_first_plan, is_judge, is_replan, plan_reply
from scripted_llm import Reply, after_tool, last_user

pytestmark = pytest.mark.integration  # processes: see conftest.py


def echo_tool_result(req: dict) -> Reply:
    return Reply(content=f"Found: {req['messages'][-1]['content']}")


async def test_executor_uses_a_third_party_server(llm, home, tmp_path):
    config = write_mcp_json(tmp_path / "mcp.json", FIXTURE_WORD="cormorant")
    llm.rule(is_first_plan, plan_reply("Look up the secret word stored under key k7"))
    llm.rule(
        lambda r: is_executor(r) and not after_tool(r),
        Reply(tool_calls=[("lookup_word", {"key": "k7"})]),
    )
    llm.rule(lambda r: is_executor(r) and after_tool(r), echo_tool_result)
    llm.rule(is_replan, answer_reply("cormorant"))
    llm.rule(
        is_judge,
        Reply(content='{"rationale": "the answer names the right fact", "verdict": "correct"}'),
    )
    async with open_agent(Context(mcp_config=str(config))) as agent:
        assert "lookup_word" in [t.name for t in await agent.resources.tools()]
        outcome = await agent.run("What is the secret word under key k7?")
    assert outcome.status == "done" and outcome.answer == "cormorant"
    executor_calls = llm.requests(is_executor)
    offered = {t["function"]["name"] for t in executor_calls[0]["tools"]}
    assert {"lookup_word", "slow", "crash"} <= offered
    tool_message = executor_calls[1]["messages"][-1]
    assert tool_message["role"] == "tool"
    assert tool_message["content"] == "the secret word for k7 is cormorant"  # plain text
    assert "Found: the secret word for k7 is cormorant" in str(llm.requests(is_replan)[0])
    workspace = agent.resources.source.workspace
    assert workspace is not None and not workspace.exists()  # tidied: the run left nothing


async def test_a_task_that_uses_no_tool_starts_no_server_once_the_catalogue_is_cached(
    llm, home, tmp_path
):
    spawns = tmp_path / "spawns.txt"
    config = write_mcp_json(tmp_path / "mcp.json", FIXTURE_WORD="ibis", FIXTURE_SPAWNS=str(spawns))
    llm.rule(lambda r: is_first_plan(r) and "no tool needed" in last_user(r), answer_reply("hello"))
    llm.rule(is_first_plan, plan_reply("Look up the word under key k3"))
    llm.rule(lambda r: is_executor(r) and not after_tool(r), Reply(content="nothing to look up"))
    llm.rule(is_replan, answer_reply("ibis"))
    llm.rule(is_judge, Reply(content='{"rationale": "right", "verdict": "correct"}'))
    context = Context(mcp_config=str(config))
    async with open_agent(context) as agent:  # no catalogue cached yet: the servers start at once
        assert (await agent.run("First task, with a plan")).status == "done"
    assert len(spawns.read_text().splitlines()) == 1
    async with open_agent(context) as agent:
        answered = await agent.run("Say hello, no tool needed")
        planned = await agent.run("Second task, a plan naming no tool")
        offered = {t["function"]["name"] for t in llm.requests(is_executor)[-1]["tools"]}
    assert answered.answer == "hello" and planned.answer == "ibis"
    assert "lookup_word" in offered  # offered from the cached catalogue
    assert len(spawns.read_text().splitlines()) == 1  # and no server started for either task
