"""The Memento loop end to end, in process, against the scripted model server."""

from __future__ import annotations

import json

import pytest
from langchain_core.tools import tool

from memento_graph.agent import open_agent
from memento_graph.context import Context
from roles import (
    answer_reply,
    executing,
    is_executor,
    is_first_plan,
    is_judge,
    is_planner,
    is_replan,
    is_synth,
    plan_reply,
    script_task,
)
from scripted_llm import Reply, after_tool, last_user


async def run(task: str, tools=(), **kw):
    ctx_kw = {
        k: kw.pop(k)
        for k in list(kw)
        if k in ("policy", "max_cycles", "concurrency", "max_tool_calls")
    }
    async with open_agent(Context(**ctx_kw), tools=tools) as agent:
        return await agent.run(task, **kw)


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def broken(x: str) -> str:
    """A tool that always fails."""
    raise RuntimeError("disk on fire")


async def test_end_to_end_answer_reward_and_stored_case(llm, home):
    llm.rule(
        is_first_plan,
        plan_reply(
            "Find the year the Eiffel Tower was completed",
            "Find the year the Statue of Liberty was dedicated",
        ),
    )
    llm.rule(
        lambda r: is_executor(r) and not after_tool(r),
        Reply(tool_calls=[("add", {"a": 1880, "b": 9})]),
    )
    llm.rule(lambda r: is_executor(r) and after_tool(r), Reply(content="1889"))
    llm.rule(is_replan, answer_reply("Statue of Liberty"))
    out = await run(
        "Which is older, the Eiffel Tower or the Statue of Liberty?",
        tools=[add],
        ground_truth="Statue of Liberty<|answer_split|>the statue",
    )
    assert out.status == "done" and out.answer == "Statue of Liberty"
    assert out.reward == 1.0 and out.case_id
    # the tool really ran: its result went back to the executor as a tool message
    tool_msgs = [m for r in llm.requests(after_tool) for m in r["messages"] if m["role"] == "tool"]
    assert tool_msgs and all(m["content"] == "1889" for m in tool_msgs)
    from memento_graph.memory import open_memory

    case = open_memory(Context()).get_case(out.case_id)
    assert case["task"].startswith("Which is older") and case["reward"] == 1.0
    assert "Eiffel Tower was completed" in case["plan"]
    assert not llm.requests(is_judge)  # ground truth given: no LLM judge


async def test_second_similar_task_sees_first_case_in_planner_prompt(llm, home):
    script_task(llm, ["Look up both construction dates"], "Statue of Liberty")
    first = await run("Which is older, the Eiffel Tower or the Statue of Liberty?")
    assert first.reward == 1.0 and llm.requests(is_judge)  # judged by the LLM judge
    await run("Which is older, the Eiffel Tower or Big Ben?")
    second_plan = llm.requests(is_first_plan)[-1]
    prompt = last_user(second_plan)
    assert "Positive examples" in prompt
    assert "Eiffel Tower or the Statue of Liberty" in prompt
    assert "Look up both construction dates" in prompt


async def test_independent_subtasks_run_in_parallel(llm, home):
    script_task(llm, ["alpha", "beta", "gamma", "delta"], "done", latency=0.4)
    out = await run("Four independent lookups", policy="none")
    assert out.status == "done"
    spans = [(e["start"], e["end"]) for e in llm.log if is_executor(e["body"])]
    assert len(spans) == 4
    latest_start = max(s for s, _ in spans)
    earliest_end = min(e for _, e in spans)
    assert latest_start < earliest_end  # all four were in flight at the same time


async def test_concurrency_one_runs_subtasks_one_at_a_time(llm, home):
    script_task(llm, ["alpha", "beta", "gamma"], "done", latency=0.1)
    await run("Three lookups", policy="none", concurrency=1)
    spans = sorted((e["start"], e["end"]) for e in llm.log if is_executor(e["body"]))
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False))


async def test_dependent_subtask_receives_its_dependency_result(llm, home):
    llm.rule(is_first_plan, plan_reply("find the capital", ("find its population", [1])))
    llm.rule(executing("find the capital"), Reply(content="Paris"))
    llm.rule(executing("find its population"), Reply(content="2.1 million"))
    llm.rule(is_replan, answer_reply("2.1 million"))
    out = await run("Population of the capital of France?", policy="none")
    assert out.answer == "2.1 million"
    second = llm.requests(executing("find its population"))[0]["messages"][1]["content"]
    assert "find the capital: Paris" in second
    starts = {e["rule"]: e["start"] for e in llm.log}
    first_end = [e["end"] for e in llm.log if executing("find the capital")(e["body"])][0]
    second_start = [e["start"] for e in llm.log if executing("find its population")(e["body"])][0]
    assert second_start >= first_end and starts


async def test_malformed_plan_is_repaired_once(llm, home):
    llm.rule(is_first_plan, Reply(content="Sure! Step one: search."), times=1)
    script_task(llm, ["search"], "42")
    out = await run("What is six times seven?", policy="none")
    assert out.status == "done" and out.answer == "42"
    repair = llm.requests(is_first_plan)[1]
    assert repair["messages"][-2]["content"] == "Sure! Step one: search."
    assert "could not be used" in repair["messages"][-1]["content"]


async def test_plan_malformed_twice_fails_clearly_and_still_answers(llm, home):
    llm.rule(is_planner, Reply(content='{"plan": [{"id": 1, "depends_on": [7]}]}'))
    llm.rule(is_synth, Reply(content="unknown"))
    llm.rule(
        is_judge,
        Reply(
            content=json.dumps({"rationale": "unknown is not an answer", "verdict": "incorrect"})
        ),
    )
    out = await run("An impossible question", policy="none")
    assert out.status == "done" and out.answer == "unknown"
    assert "malformed twice" in out.note and out.reward == 0.0
    assert len(llm.requests(is_planner)) == 2


async def test_cycles_running_out_gives_best_effort_answer(llm, home):
    llm.rule(is_planner, plan_reply("keep digging"))
    llm.rule(is_executor, Reply(content="nothing yet"))
    llm.rule(is_synth, Reply(content="probably 7"))
    llm.rule(
        is_judge,
        Reply(content=json.dumps({"rationale": "a guess, not the answer", "verdict": "incorrect"})),
    )
    out = await run("A hard question", policy="none", max_cycles=2)
    assert out.answer == "probably 7" and "cycles ran out" in out.note
    assert len(llm.requests(is_planner)) == 2 and len(llm.requests(is_executor)) == 2


async def test_tool_errors_and_budget_go_back_to_the_model(llm, home):
    llm.rule(is_first_plan, plan_reply("use the broken tool"))
    llm.rule(
        lambda r: is_executor(r) and "all your tool calls" in str(r["messages"][-1]["content"]),
        Reply(content="gave up"),
    )
    llm.rule(is_executor, Reply(tool_calls=[("broken", {"x": "a"}), ("nope", {})]))
    llm.rule(is_replan, answer_reply("none"))
    out = await run("Use a tool", tools=[broken], policy="none", max_tool_calls=3)
    assert out.status == "done"
    tool_msgs = [
        m["content"]
        for r in llm.requests(is_executor)
        for m in r["messages"]
        if m["role"] == "tool"
    ]
    assert any("disk on fire" in m for m in tool_msgs)
    assert any("no tool named 'nope'" in m for m in tool_msgs)
    assert any("budget spent" in m for m in tool_msgs)
    last = llm.requests(is_executor)[-1]["messages"]
    assert "all your tool calls" in last[-1]["content"]


async def test_transient_model_errors_are_retried(llm, home):
    llm.rule(is_first_plan, Reply(status=500), times=1)
    llm.rule(is_first_plan, Reply(status=429), times=1)
    script_task(llm, ["x"], "ok")
    out = await run("Retry me", policy="none")
    assert out.status == "done" and out.answer == "ok"


async def test_persistent_model_error_fails_resumable(llm, home):
    llm.rule(is_first_plan, Reply(status=503), times=3)
    script_task(llm, ["x"], "ok")
    async with open_agent(Context(policy="none")) as agent:
        failed = await agent.run("Flaky endpoint")
        assert failed.status == "failed" and "503" in failed.error
        done = await agent.resume(failed.thread_id)
    assert done.status == "done" and done.answer == "ok"


@pytest.mark.parametrize("bad", ["", "   "])
async def test_empty_task_is_refused(llm, home, bad):
    from memento_graph.errors import MementoError

    with pytest.raises(MementoError, match="task is empty"):
        await run(bad)


class FakeMemory:
    """A memory that offers one fixed case and keeps the episodes it is given."""

    def __init__(self) -> None:
        self.episodes: list[dict] = []

    def retrieve(
        self, task: str, k: int, policy: str, floor: float | None = None, lesson_floor: float = 0
    ) -> list[dict]:
        plan = '{"plan": [{"id": 1, "description": "ask the oracle", "depends_on": []}]}'
        return [
            {
                "id": "fake-1",
                "task": "An earlier oracle question",
                "plan": plan,
                "label": "positive",
            }
        ]

    def episode(self, thread_id: str) -> None:
        return None

    def complete_episode(self, **episode) -> dict:
        self.episodes.append(episode)
        return {"id": "fake-case"}


async def test_an_agent_runs_on_fake_tools_and_a_fake_memory(llm, home):
    fake = FakeMemory()
    opened: list[str] = []

    def open_fake(context: Context) -> FakeMemory:
        opened.append(context.user)
        return fake

    llm.rule(is_first_plan, plan_reply("add the numbers"))
    llm.rule(
        lambda r: is_executor(r) and not after_tool(r),
        Reply(tool_calls=[("add", {"a": 2, "b": 3})]),
    )
    llm.rule(lambda r: is_executor(r) and after_tool(r), Reply(content="5"))
    llm.rule(is_replan, answer_reply("5"))
    async with open_agent(Context(user="ann"), tools=[add], open_memory=open_fake) as agent:
        out = await agent.run("What is 2 + 3?", ground_truth="5")
    assert out.answer == "5" and out.case_id == "fake-case" and out.cases_used == ["fake-1"]
    assert opened == ["ann"]  # opened once, for the run's user
    assert "An earlier oracle question" in last_user(llm.requests(is_first_plan)[0])
    assert [e["task"] for e in fake.episodes] == ["What is 2 + 3?"]
    assert fake.episodes[0]["retrieved"][0]["id"] == "fake-1"
    assert not (home / "casebank").exists()  # nothing reached the real case bank
