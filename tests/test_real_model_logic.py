"""Issue 11 parts 2-5 against the scripted model: what a real small model did wrong, one test each.

Bounded replies (max_tokens per role, replies cut at the length limit, the self-dependency
message), tool-aware planning (the catalogue of loaded tools, the tools offered to the executor,
forced first calls), timeouts on silence, and a judge that cannot poison memory.
"""

from __future__ import annotations

import json
import time

import pytest
import typer
from langchain_core.tools import StructuredTool, tool
from rich.console import Console
from typer.testing import CliRunner

from cli_run import memento
from fixtures.mcp_support import write_mcp_json
from memento_graph import prompts
from memento_graph.agent import open_agent
from memento_graph.catalogue import tool_catalogue
from memento_graph.commands.feedback import feedback
from memento_graph.context import Context
from memento_graph.errors import MementoError
from memento_graph.mcp_servers import BUILTINS
from memento_graph.progress import Progress
from roles import (
    answer_reply,
    executing,
    is_executor,
    is_first_plan,
    is_judge,
    is_planner,
    is_replan,
    is_synth,
    judge_reply,
    max_tokens_of,
    offered_tools,
    plan_reply,
    script_task,
    tool_plan_reply,
)
from scripted_llm import Reply, after_tool, last_user, system_text, wants_json

CALLS: list[tuple] = []


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    CALLS.append(("add", a, b))
    return a + b


@tool
def mul(a: int, b: int) -> int:
    """Multiply two integers."""
    CALLS.append(("mul", a, b))
    return a * b


@tool
def secret(word: str) -> str:
    """Return the secret that goes with a word."""
    CALLS.append(("secret", word))
    return f"the secret of {word} is 7"


@pytest.fixture
def tools():
    """add, mul and secret, the agent's loaded tools; their calls are recorded in CALLS."""
    CALLS.clear()
    return [add, mul, secret]


async def run_state(task: str, ctx: Context | None = None, tools=(), **kw):
    """Run `task` with these loaded tools; return the outcome and the thread's final state values."""
    async with open_agent(ctx or Context(policy="none"), tools=tools) as agent:
        out = await agent.run(task, **kw)
        snap = await agent.graph.aget_state({"configurable": {"thread_id": out.thread_id}})
    return out, dict(snap.values or {})


def plan_json(*steps: dict) -> str:
    return json.dumps({"plan": list(steps), "final_answer": None, "thought": ""})


def step(i: int, desc: str, deps: list[int] | None = None, tools: list[str] | None = None) -> dict:
    return {"id": i, "description": desc, "tools": tools or [], "depends_on": deps or []}


# -- 1. max_tokens per role --------------------------------------------------------------------


async def test_each_role_sends_its_own_max_tokens(llm, home):
    llm.rule(is_first_plan, plan_reply("look it up"))
    llm.rule(is_executor, Reply(content="found 42"))
    llm.rule(is_synth, Reply(content="42"))
    llm.rule(is_judge, judge_reply("the answer is the right product"))
    ctx = Context(
        policy="none",
        max_cycles=1,  # the cycles run out after one plan: the synthesizer answers
        planner_max_tokens=101,
        executor_max_tokens=202,
        synthesizer_max_tokens=303,
        judge_max_tokens=404,
    )
    out, _ = await run_state("What is six times seven?", ctx)
    assert out.status == "done" and out.answer == "42" and "cycles ran out" in out.note
    for role, want in ((is_planner, 101), (is_executor, 202), (is_synth, 303), (is_judge, 404)):
        reqs = llm.requests(role)
        assert reqs and [max_tokens_of(r) for r in reqs] == [want] * len(reqs), role.__name__


async def test_default_max_tokens_are_sent(llm, home):
    script_task(llm, ["look it up"], "42")
    await run_state("What is six times seven?")
    defaults = Context()
    assert max_tokens_of(llm.requests(is_planner)[0]) == defaults.planner_max_tokens
    assert max_tokens_of(llm.requests(is_executor)[0]) == defaults.executor_max_tokens
    assert max_tokens_of(llm.requests(is_judge)[0]) == defaults.judge_max_tokens


# -- 2. replies cut at the length limit ------------------------------------------------------

CUT_EARLY = '{"plan": [{"id": 1, "description": "Find the height of the Eiff'
CUT_LATE = (
    '{"plan": [{"id": 1, "description": "Find the height of A", "tools": [], "depends_on": []}, '
    '{"id": 2, "description": "Find the height of B", "tools": [], "depends_on": []}, '
    '{"id": 3, "descrip'
)


async def test_plan_cut_at_the_length_limit_is_repaired_shorter(llm, home):
    llm.rule(is_first_plan, Reply(content=CUT_EARLY, finish_reason="length"), times=1)
    script_task(llm, ["find the height"], "330")
    out, state = await run_state("How tall is the Eiffel Tower?")
    assert out.status == "done" and out.answer == "330" and not out.note
    first, repair = llm.requests(is_first_plan)
    # streamed under a JSON schema (sent as is in the body): the cut reply ends with "length"
    assert first.get("stream") and first.get("response_format")
    assert repair["messages"][-2] == {"role": "assistant", "content": CUT_EARLY}
    ask = repair["messages"][-1]["content"]
    assert "cut at the length limit (2048 tokens)" in ask and "much shorter" in ask
    assert "salvaged" not in state["plans"][0]


async def test_plan_cut_twice_keeps_its_complete_subtasks(llm, home):
    llm.rule(is_first_plan, Reply(content=CUT_LATE, finish_reason="length"))
    llm.rule(is_executor, Reply(content="100 m"))
    llm.rule(is_replan, answer_reply("A"))
    out, state = await run_state("Which is taller, A or B?")
    assert out.status == "done" and out.answer == "A"
    assert len(llm.requests(is_first_plan)) == 2
    record = state["plans"][0]
    assert "kept the subtasks written before the reply was cut" in record["salvaged"]
    assert [s["description"] for s in record["subtasks"]] == [
        "Find the height of A",
        "Find the height of B",
    ]
    ran = {
        r["messages"][1]["content"].split("Your subtask: ")[1] for r in llm.requests(is_executor)
    }
    assert ran == {"Find the height of A", "Find the height of B"}


async def test_plan_cut_twice_with_nothing_complete_fails_cleanly(llm, home):
    llm.rule(is_planner, Reply(content=CUT_EARLY[:30], finish_reason="length"))
    llm.rule(is_synth, Reply(content="about 330 m"))
    llm.rule(is_judge, judge_reply("a guess with no support", "incorrect"))
    out, _ = await run_state("How tall is the Eiffel Tower?")
    assert out.status == "done" and out.answer == "about 330 m" and out.error is None
    assert "malformed twice" in out.note and "cut at the length limit" in out.note
    assert len(llm.requests(is_planner)) == 2


async def test_judge_cut_twice_means_reward_unknown(llm, home):
    llm.rule(is_judge, Reply(content='{"rationale": "the answer is', finish_reason="length"))
    script_task(llm, ["look"], "42")  # its judge rule comes second: never used
    out, state = await run_state("What is six times seven?")
    assert out.status == "done" and out.reward is None
    assert "reward unknown" in state["judge"]["rationale"]
    assert "cut at the length limit" in state["judge"]["rationale"]
    assert len(llm.requests(is_judge)) == 4  # two samples of the judge, each asked again once


# -- 3. the self-dependency message ------------------------------------------------------------


async def test_self_dependency_is_named_in_the_repair(llm, home):
    llm.rule(is_first_plan, Reply(content=plan_json(step(1, "loop", deps=[1]))), times=1)
    script_task(llm, ["look it up"], "ok")
    out, _ = await run_state("Anything")
    assert out.status == "done" and out.answer == "ok"
    ask = llm.requests(is_first_plan)[1]["messages"][-1]["content"]
    assert "subtask 1 depends on itself" in ask and "unknown ids" not in ask


async def test_self_dependency_twice_is_dropped_by_the_salvage(llm, home):
    bad = plan_json(step(1, "first"), step(2, "second", deps=[1, 2]))
    llm.rule(is_first_plan, Reply(content=bad))
    llm.rule(is_executor, Reply(content="done"))
    llm.rule(is_replan, answer_reply("ok"))
    out, state = await run_state("Anything")
    assert out.status == "done" and out.answer == "ok"
    record = state["plans"][0]
    assert "dropped invalid dependencies of subtask 2" in record["salvaged"]
    assert state["subtasks"]["1.2"]["depends_on"] == ["1.1"]


# -- 4. the planner is told the tools that are loaded -------------------------------------------

HARD_CODED = ("search", "crawl", "documents", "spreadsheets", "math", "media")


async def test_planner_prompt_and_schema_list_exactly_the_loaded_tools(llm, home, tools):
    forecast = StructuredTool.from_function(
        lambda city: "sunny",
        name="forecast",
        description="Weather forecast for a city. Uses the national service.",
        metadata={"server": "weather"},
    )
    script_task(llm, ["x"], "ok")
    await run_state("Anything", tools=[add, mul, forecast])
    req = llm.requests(is_first_plan)[0]
    system = system_text(req)
    assert "- local: add - Add two integers" in system
    assert "- local: mul - Multiply two integers" in system
    assert "- weather: forecast - Weather forecast for a city" in system
    assert "secret" not in system and "none are loaded" not in system
    assert not [w for w in HARD_CODED if w in system.lower()]
    schema = json.dumps(req["response_format"]["json_schema"]["schema"])
    assert '"enum": ["add", "mul", "forecast"]' in schema


async def test_planner_is_told_when_no_tools_are_loaded(llm, home):
    script_task(llm, ["x"], "ok")
    await run_state("Anything")
    req = llm.requests(is_first_plan)[0]
    system = system_text(req)
    assert prompts.NO_TOOLS in system and "- local:" not in system
    assert not [w for w in HARD_CODED if w in system.lower()]
    assert '"enum"' not in json.dumps(req["response_format"]["json_schema"]["schema"])


@pytest.mark.integration
async def test_mcp_json_server_is_in_the_catalogue_and_its_named_tool_forced(llm, home, tmp_path):
    config = write_mcp_json(tmp_path / "mcp.json", FIXTURE_WORD="cormorant")
    llm.rule(is_first_plan, tool_plan_reply(("Find the word under key k7", ["lookup_word"])))
    llm.rule(
        lambda r: is_executor(r) and not after_tool(r),
        Reply(tool_calls=[("lookup_word", {"key": "k7"})]),
    )
    llm.rule(is_executor, Reply(content="cormorant"))
    llm.rule(is_replan, answer_reply("cormorant"))
    out, _ = await run_state(
        "What is the word under key k7?", Context(policy="none", mcp_config=str(config))
    )
    assert out.answer == "cormorant"
    plan_req = llm.requests(is_first_plan)[0]
    system = system_text(plan_req)
    assert "- fixture: lookup_word - Look up the secret word stored under a key" in system
    assert "- fixture: slow - Sleep, then answer" in system
    servers = {line.split(":")[0][2:] for line in system.splitlines() if line.startswith("- ")}
    assert servers == {"fixture"}  # built-ins are off: no line for any of them
    assert not set(BUILTINS) & servers
    first, after = llm.requests(is_executor)
    assert offered_tools(first) == ["lookup_word"]
    assert first["tool_choice"]["function"]["name"] == "lookup_word"
    assert after["messages"][-1]["content"] == "the secret word for k7 is cormorant"


def many_tools(n: int) -> list:
    return [
        StructuredTool.from_function(
            lambda q: q,
            name=f"tool_{i:02d}",
            description=f"Does thing number {i} with a rather long description of what it does.",
            metadata={"server": f"server{i % 3}"},
        )
        for i in range(n)
    ]


def catalogue_count(text: str) -> int:
    """Count the tools a catalogue mentions: described, named, and 'and N more tools'."""
    described = sum(line.startswith("- server") for line in text.splitlines())
    also = [line for line in text.splitlines() if line.startswith("- also: ")]
    named = also[0].removeprefix("- also: ").split(" and ")[0].count("tool_") if also else 0
    rest = int(text.rsplit("and ", 1)[1].split()[0]) if "more tools" in text else 0
    return described + named + rest


@pytest.mark.parametrize("budget", [20, 60, 200])
def test_catalogue_keeps_to_its_budget_and_counts_the_rest(budget):
    text = tool_catalogue(many_tools(40), budget)
    assert "more tools" in text
    assert catalogue_count(text) == 40  # every loaded tool is described, named or counted
    # the budget bounds the descriptions and names; the closing "- also: ... and N more tools"
    # line's frame is not counted, so it may pass the budget by about 30 characters
    assert len(text) <= budget * 4 + len("\n- also:  and 40 more tools")


async def test_planner_sees_a_bounded_catalogue_of_many_tools(llm, home):
    script_task(llm, ["x"], "ok")
    await run_state(
        "Anything", Context(policy="none", tool_catalogue_tokens=100), tools=many_tools(40)
    )
    system = system_text(llm.requests(is_first_plan)[0])
    section = system.split("Tools of the executor", 1)[1].split("\n\nReply with JSON", 1)[0]
    assert "more tools" in section and len(section) <= 100 * 4 + 20
    assert "- server0: tool_00 - Does thing number 0" in section


# -- 5. the executor is offered the tools its subtask names -----------------------------------


async def test_executor_gets_the_named_tool_forced_and_all_tools_when_none_named(llm, home, tools):
    llm.rule(is_first_plan, tool_plan_reply(("sum two and three", ["add"]), ("think", [])))
    llm.rule(
        lambda r: executing("sum")(r) and not after_tool(r),
        Reply(tool_calls=[("add", {"a": 2, "b": 3})]),
    )
    llm.rule(executing("sum"), Reply(content="5"))
    llm.rule(executing("think"), Reply(content="thought"))
    llm.rule(is_replan, answer_reply("5"))
    out, state = await run_state("What is two plus three?", tools=tools)
    assert out.answer == "5" and CALLS == [("add", 2, 3)]
    first, after = llm.requests(executing("sum"))
    assert offered_tools(first) == ["add"]
    assert first["tool_choice"] == {"type": "function", "function": {"name": "add"}}
    assert after["messages"][-1] == {
        "role": "tool",
        "content": "5",
        "tool_call_id": after["messages"][-2]["tool_calls"][0]["id"],
    }
    assert "tool_choice" not in after  # only the first call is forced
    (think,) = llm.requests(executing("think"))
    assert sorted(offered_tools(think)) == ["add", "mul", "secret"] and "tool_choice" not in think
    assert state["results"]["1.1"]["tool_calls"] == 1
    assert "no_tool_call" not in state["results"]["1.1"]
    assert "no_tool_call" not in state["results"]["1.2"]  # named no tool: none expected


async def test_ignored_tool_choice_falls_back_to_json_arguments(llm, home, tools):
    llm.rule(is_first_plan, tool_plan_reply(("sum two and three", ["add"])))
    llm.rule(lambda r: is_executor(r) and wants_json(r), Reply(content='{"a": 2, "b": 3}'))
    llm.rule(lambda r: is_executor(r) and after_tool(r), Reply(content="5"))
    llm.rule(is_executor, Reply(content="I would add 2 and 3."))  # tool_choice ignored
    llm.rule(is_replan, answer_reply("5"))
    out, state = await run_state("What is two plus three?", Context(policy="none"), tools=tools)
    assert out.answer == "5" and CALLS == [("add", 2, 3)]  # the tool really ran
    forced, ask, after = llm.requests(is_executor)
    assert offered_tools(forced) == ["add"] and forced["tool_choice"]["function"]["name"] == "add"
    schema = ask["response_format"]["json_schema"]["schema"]
    assert set(schema["properties"]) == {"a", "b"} and not ask.get("tools")
    assert "Call the tool `add`" in last_user(ask)
    assert max_tokens_of(ask) == Context().executor_max_tokens
    assert after["messages"][-2]["tool_calls"][0]["function"] == {
        "name": "add",
        "arguments": json.dumps({"a": 2, "b": 3}),
    }
    assert after["messages"][-1]["content"] == "5"
    assert state["results"]["1.1"]["tool_calls"] == 1
    assert "no_tool_call" not in state["results"]["1.1"]


async def test_subtask_naming_only_unloaded_tools_gets_every_tool(llm, home, tools):
    llm.rule(is_first_plan, tool_plan_reply(("search the web", ["web_search"])))
    llm.rule(is_executor, Reply(content="nothing to search with"))
    llm.rule(is_replan, answer_reply("unknown"))
    out, state = await run_state("Search something", tools=tools)
    assert out.answer == "unknown"
    (req,) = llm.requests(is_executor)
    assert sorted(offered_tools(req)) == ["add", "mul", "secret"] and "tool_choice" not in req
    assert state["subtasks"]["1.1"]["tools"] == ["web_search"]
    assert state["results"]["1.1"]["no_tool_call"] is True


async def test_call_to_an_unnamed_loaded_tool_still_runs(llm, home, tools):
    llm.rule(is_first_plan, tool_plan_reply(("work it out", ["add", "mul"])))
    llm.rule(
        lambda r: is_executor(r) and not after_tool(r),
        Reply(tool_calls=[("secret", {"word": "owl"})]),
    )
    llm.rule(is_executor, Reply(content="7"))
    llm.rule(is_replan, answer_reply("7"))
    out, state = await run_state("What is the owl's secret?", tools=tools)
    assert out.answer == "7" and CALLS == [("secret", "owl")]
    first, after = llm.requests(is_executor)
    assert sorted(offered_tools(first)) == ["add", "mul"] and "tool_choice" not in first
    assert "Other tools you may call if needed: secret" in last_user(first)
    assert after["messages"][-1]["content"] == "the secret of owl is 7"
    assert state["results"]["1.1"]["tool_calls"] == 1


@pytest.mark.integration
async def test_named_tool_never_called_is_marked_and_shown(llm, home, tools):
    llm.rule(is_first_plan, tool_plan_reply(("sum two and three", ["add"]), ("chat", [])))
    llm.rule(lambda r: is_executor(r) and wants_json(r), Reply(content="no arguments, sorry"))
    llm.rule(is_executor, Reply(content="it is 5"))
    llm.rule(is_replan, answer_reply("5"))
    console = Console(record=True, width=200)
    progress = Progress(console)
    out, state = await run_state("What is two plus three?", on_event=progress.on_event, tools=tools)
    assert out.status == "done" and CALLS == []
    named, free = state["results"]["1.1"], state["results"]["1.2"]
    assert named["no_tool_call"] is True and named["tool_calls"] == 0
    assert named["output"] == "it is 5"  # the executor's own reply stands
    assert "no_tool_call" not in free
    live = console.export_text()
    assert "subtask 1.1" in live and "no tool called" in live
    shown = memento("threads", "show", out.thread_id)
    assert shown.returncode == 0, shown.stderr
    assert "no tool called" in shown.stdout


# -- 6. timeouts on silence, not on total time ---------------------------------------------------


async def test_slow_but_steady_stream_is_not_cut_off(llm, home):
    slow = answer_reply("Paris")
    slow.chunks, slow.chunk_delay = 8, 0.3  # 2.4 s in all, never 1 s of silence
    llm.rule(is_first_plan, slow)
    started = time.monotonic()
    out, _ = await run_state(
        "Capital of France?", Context(policy="none", model_timeout=1.0), ground_truth="Paris"
    )
    assert time.monotonic() - started >= 2.1
    assert out.status == "done" and out.answer == "Paris" and out.reward == 1.0
    assert len(llm.arrivals) == 1 and not llm.aborted  # one request, never re-sent


async def test_stuck_stream_times_out_on_silence_and_is_retried(llm, home):
    stuck = answer_reply("Paris")
    # a first piece, then 5 s of SSE keep-alive comments only: bytes keep coming, so only a
    # timeout on silence between chunks (not the socket's read timeout) can notice it
    stuck.chunks, stuck.stall = 4, 5.0
    llm.rule(is_first_plan, stuck, times=1)
    llm.rule(is_first_plan, answer_reply("Paris"))
    started = time.monotonic()
    out, _ = await run_state(
        "Capital of France?", Context(policy="none", model_timeout=1.0), ground_truth="Paris"
    )
    assert out.status == "done" and out.answer == "Paris"
    assert time.monotonic() - started >= 1.0
    assert len(llm.arrivals) == 2  # timed out once, re-sent once
    deadline = time.monotonic() + 3
    while not llm.aborted and time.monotonic() < deadline:
        time.sleep(0.05)
    # the client hung up during the stall (a one-slot server stops generating), long before
    # the stuck reply would have ended by itself
    (aborted,) = llm.aborted
    assert aborted["at"] - llm.arrivals[0]["start"] < stuck.stall - 1


async def test_model_timeout_is_read_from_the_environment(llm, home, monkeypatch):
    monkeypatch.setenv("MEMENTO_MODEL_TIMEOUT", "1")
    stuck = answer_reply("Paris")
    stuck.latency = 10.0  # not a byte, not even the headers
    llm.rule(is_first_plan, stuck, times=1)
    llm.rule(is_first_plan, answer_reply("Paris"))
    started = time.monotonic()
    out, _ = await run_state("Capital of France?", Context(policy="none"), ground_truth="Paris")
    assert out.answer == "Paris" and len(llm.arrivals) == 2
    assert time.monotonic() - started < 7.0  # gave up on the silent request long before 10 s


# -- 7. a judge that cannot poison memory --------------------------------------------------------


def memory():
    from memento_graph.memory import open_memory

    return open_memory(Context())


async def test_bare_number_verdict_gives_unknown_reward_and_no_case(llm, home):
    llm.rule(is_judge, Reply(content=json.dumps({"rationale": "1.0", "verdict": "correct"})))
    script_task(llm, ["look it up"], "Seine")
    out, state = await run_state("Which river flows through Paris?", Context())
    assert out.status == "done" and out.answer == "Seine"
    assert out.reward is None and out.case_id is None
    assert (
        "reward unknown" in state["judge"]["rationale"] and "'1.0'" in state["judge"]["rationale"]
    )
    assert state["judge"]["no_case"] == "reward unknown"
    mem = memory()
    assert mem.list_cases() == []
    episode = mem.episode(out.thread_id)
    assert episode is not None and episode["reward"] is None and episode["case_id"] is None
    # `memento feedback` (in this process: the embedded case bank is single-process)
    fb = typer.Typer()
    fb.command()(feedback)
    given = CliRunner().invoke(fb, [out.thread_id, "--reward", "1"])
    assert given.exit_code == 0, given.output
    assert f"feedback recorded for {out.thread_id}: reward 1 (no case)" in given.output
    episode = mem.episode(out.thread_id)
    assert episode["reward"] == 1.0 and episode["judge_source"] == "user"


@pytest.mark.parametrize(
    "rationale", ["1", "correct", "Yes.", "ok fine", "  0.9 / 1 "], ids=lambda s: s.strip()
)
async def test_senseless_rationales_are_not_rewards(llm, home, rationale):
    llm.rule(is_judge, judge_reply(rationale))
    script_task(llm, ["look it up"], "Seine")
    out, _ = await run_state("Which river flows through Paris?", Context())
    assert out.reward is None and out.case_id is None and memory().list_cases() == []


async def test_sensible_verdict_still_writes_a_case(llm, home):
    script_task(llm, ["look it up"], "Seine")
    out, _ = await run_state("Which river flows through Paris?", Context())
    assert out.reward == 1.0 and out.case_id
    assert [c["id"] for c in memory().list_cases()] == [out.case_id]


async def test_answer_without_a_plan_never_becomes_a_case(llm, home):
    llm.rule(is_first_plan, answer_reply("Seine"))
    llm.rule(is_judge, judge_reply("the answer names the right river"))
    out, state = await run_state("Which river flows through Paris?", Context())
    assert out.answer == "Seine" and out.reward == 1.0 and out.case_id is None
    assert state["judge"]["no_case"] == "no plan was executed"
    mem = memory()
    assert mem.list_cases() == [] and mem.episode(out.thread_id)["reward"] == 1.0


async def test_planning_malformed_twice_never_becomes_a_case(llm, home):
    llm.rule(is_planner, Reply(content='{"plan": []}'))
    llm.rule(is_synth, Reply(content="Seine"))
    llm.rule(is_judge, judge_reply("the answer names the right river"))
    out, state = await run_state("Which river flows through Paris?", Context())
    assert "malformed twice" in out.note and out.reward == 1.0 and out.case_id is None
    assert state["judge"]["no_case"] == "no plan was executed"
    assert memory().list_cases() == []


async def test_best_effort_with_no_finished_subtask_never_becomes_a_case(llm, home):
    llm.rule(is_first_plan, plan_reply("look it up"))
    llm.rule(is_executor, Reply(status=400))  # a model error that is not retried
    llm.rule(is_replan, answer_reply("Seine"))
    llm.rule(is_judge, judge_reply("the answer names the right river"))
    out, state = await run_state("Which river flows through Paris?", Context())
    assert state["results"]["1.1"]["status"] == "failed"
    assert out.reward == 1.0 and out.case_id is None
    assert state["judge"]["no_case"] == "no subtask finished"
    assert memory().list_cases() == []


# -- 8. non-positive budgets are refused ----------------------------------------------------------


@pytest.mark.parametrize(
    "field",
    [
        "planner_max_tokens",
        "executor_max_tokens",
        "synthesizer_max_tokens",
        "judge_max_tokens",
        "max_subtasks",
        "tool_catalogue_tokens",
        "model_timeout",
    ],
)
def test_context_refuses_non_positive_budgets(field):
    with pytest.raises(MementoError, match=rf"^{field}\b.* must be positive, got 0"):
        Context(**{field: 0})


@pytest.mark.integration
def test_cli_refuses_a_zero_planner_budget_in_one_line(llm, home, monkeypatch):
    monkeypatch.setenv("MEMENTO_PLANNER_MAX_TOKENS", "0")
    result = memento("run", "What is six times seven?")
    assert result.returncode != 0
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: planner_max_tokens") and "must be positive, got 0" in line
    assert "Traceback" not in result.stderr + result.stdout
    assert not llm.requests()


# -- cut replies elsewhere: the forced call's JSON arguments, token counts -----------------------


async def test_forced_call_arguments_cut_at_the_length_limit_do_not_crash(llm, home, tools):
    llm.rule(is_first_plan, tool_plan_reply(("sum two and three", ["add"])))
    llm.rule(
        lambda r: is_executor(r) and wants_json(r),
        Reply(content='{"a": 2, "b', finish_reason="length"),
    )
    llm.rule(is_executor, Reply(content="I would add 2 and 3."))  # tool_choice ignored
    llm.rule(is_replan, answer_reply("5"))
    llm.rule(is_synth, Reply(content="5"))
    out, state = await run_state("What is two plus three?", tools=tools)
    assert out.status == "done" and out.error is None and out.answer == "5"
    assert CALLS == []
    assert state["results"]["1.1"]["no_tool_call"] is True


async def test_tokens_of_a_cut_plan_are_counted(llm, home):
    # streamed as real servers do: the usage comes after the chunk that says "length"
    cut = Reply(content=CUT_EARLY, finish_reason="length", chunks=2, usage=(700, 300))
    llm.rule(is_first_plan, cut, times=1)
    llm.rule(is_first_plan, answer_reply("330"))
    out, _ = await run_state("How tall is the Eiffel Tower?", ground_truth="330")
    assert out.answer == "330"
    assert out.tokens == {"input": 710, "output": 305}
