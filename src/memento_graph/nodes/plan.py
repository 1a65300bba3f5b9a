"""plan: the meta-planner writes a DAG of subtasks, or the final answer."""

from __future__ import annotations

from datetime import UTC, datetime

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from memento_graph import prompts
from memento_graph.catalogue import tool_catalogue
from memento_graph.context import Context
from memento_graph.llm import ask_json, chat_model
from memento_graph.nodes.plan_schema import (
    attributed_ids,
    planner_output,
    salvage_plan,
    subtask_records,
)
from memento_graph.resources import resources_of
from memento_graph.state import Plan, State, StateUpdate, results_so_far


async def plan(state: State, runtime: Runtime[Context], config: RunnableConfig) -> StateUpdate:
    """Ask the planner for a plan (cycle 1) or, with the results so far, an answer or a new plan."""
    ctx = runtime.context
    cycle = state.get("cycle", 0) + 1
    history = results_so_far(state)
    if cycle > ctx.max_cycles:
        return {"status": "exhausted", "note": f"planning cycles ran out ({ctx.max_cycles})"}
    tools = await resources_of(config).tools()  # cached stand-ins while the servers start
    catalogue = tool_catalogue(tools, ctx.tool_catalogue_tokens) or prompts.NO_TOOLS
    system = prompts.PLANNER_SYSTEM.format(
        date=datetime.now(UTC).date(), max_subtasks=ctx.max_subtasks, tools=catalogue
    )
    messages = [
        SystemMessage(content=system),
        HumanMessage(
            content=prompts.planner_request(
                state["task"], state.get("files") or [], state.get("cases") or [], history
            )
        ),
    ]
    llm = chat_model(ctx.planner_model, ctx.model_timeout, ctx.planner_max_tokens)
    schema = planner_output(ctx.max_subtasks, tuple(t.name for t in tools))
    output, error, tokens = await ask_json(
        llm, messages, schema, salvage=lambda text: salvage_plan(text, schema)
    )
    if output is None:
        return {
            "cycle": cycle,
            "status": "failed",
            "error": f"the planner's reply was malformed twice: {error}",
            "tokens": tokens,
        }
    if output.final_answer:
        return {
            "cycle": cycle,
            "status": "answered",
            "answer": output.final_answer.strip(),
            "tokens": tokens,
        }
    subtasks = subtask_records(cycle, output.plan)
    if any(s["tools"] for s in subtasks.values()):
        resources_of(config).warm()  # the executor will call tools: start their servers now
    record: Plan = {"cycle": cycle, "thought": output.thought, "subtasks": list(subtasks.values())}
    shown = attributed_ids(output, state.get("cases") or [])  # the case ids of the numbers named
    record["followed"], record["avoided"] = shown["followed"], shown["avoided"]
    if error:  # the reply failed its checks twice and was salvaged: say what was mended
        record["salvaged"] = error
    return {
        "cycle": cycle,
        "status": "executing",
        "subtasks": subtasks,
        "plans": [record],
        "tokens": tokens,
    }
