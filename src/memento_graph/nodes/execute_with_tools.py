"""execute_with_tools: one subtask in a tool-calling loop, bounded by `max_tool_calls`."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import openai
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import BaseTool
from langgraph.config import get_config
from langgraph.runtime import Runtime

from memento_graph import prompts
from memento_graph.context import Context
from memento_graph.llm import chat_model, is_transient, usage
from memento_graph.state import SubtaskInput
from memento_graph.toolbox import get_tools

_limits: weakref.WeakValueDictionary[tuple[str, int], asyncio.Semaphore] = (
    weakref.WeakValueDictionary()
)


def _limit(thread_id: str, n: int) -> asyncio.Semaphore:
    """Return the semaphore bounding how many subtasks of one thread run at once.

    Held weakly: it lives as long as some subtask of the thread is waiting or running.
    """
    key = (thread_id, max(1, n))
    limit = _limits.get(key)
    if limit is None:
        limit = _limits[key] = asyncio.Semaphore(key[1])
    return limit


async def _call_tool(tools: dict[str, BaseTool], call: dict[str, Any]) -> ToolMessage:
    """Run one tool call; any failure goes back to the model as an error tool message."""
    tool = tools.get(call["name"])
    try:
        if tool is None:
            raise LookupError(f"no tool named {call['name']!r}; available: {', '.join(tools)}")
        output = await tool.ainvoke(call["args"])
        content = output if isinstance(output, str) else str(output)
        return ToolMessage(content=content, tool_call_id=call["id"], name=call["name"])
    except Exception as exc:  # noqa: BLE001 - every tool error is the model's to handle
        return ToolMessage(
            content=f"Error: {type(exc).__name__}: {exc}",
            tool_call_id=call["id"],
            name=call["name"],
            status="error",
        )


async def execute_with_tools(state: SubtaskInput, runtime: Runtime[Context]) -> dict[str, Any]:
    """Execute one subtask: call tools until the executor answers or the budget is spent."""
    ctx = runtime.context
    subtask = state["subtask"]
    tools = {t.name: t for t in get_tools()}
    llm = chat_model(ctx.executor_model, ctx.model_timeout)
    bound = llm.bind_tools(list(tools.values())) if tools else llm
    messages: list[BaseMessage] = [
        SystemMessage(content=prompts.EXECUTOR_SYSTEM),
        HumanMessage(
            content=prompts.executor_request(
                state["task"], subtask, state["dependencies"], state["files"]
            )
        ),
    ]
    thread_id = str(get_config().get("configurable", {}).get("thread_id", ""))
    tokens = {"input": 0, "output": 0}
    async with _limit(thread_id, ctx.concurrency):
        try:
            output, calls = await _loop(bound, tools, messages, ctx.max_tool_calls, tokens)
            result = {"status": "done", "output": output or "(empty result)", "tool_calls": calls}
        except openai.APIStatusError as exc:
            if is_transient(exc):
                raise  # the node's RetryPolicy retries it
            result = {"status": "failed", "output": f"model error: {exc.message}", "tool_calls": 0}
    return {"results": {subtask["key"]: result}, "tokens": tokens}


async def _loop(
    bound: Any,
    tools: dict[str, BaseTool],
    messages: list[BaseMessage],
    budget: int,
    tokens: dict[str, int],
) -> tuple[str, int]:
    """Run the ReAct loop; return the executor's final text and the number of tool calls."""
    calls = 0
    while True:
        if calls >= budget:
            messages.append(HumanMessage(content=prompts.BUDGET_SPENT))
        reply = await bound.ainvoke(messages)
        for key, value in usage(reply).items():
            tokens[key] += value
        assert isinstance(reply, AIMessage)
        if not reply.tool_calls or calls >= budget:
            text = reply.content if isinstance(reply.content, str) else str(reply.content)
            return text.strip(), calls
        messages.append(reply)
        room = budget - calls
        todo, refused = reply.tool_calls[:room], reply.tool_calls[room:]
        messages.extend(await asyncio.gather(*(_call_tool(tools, c) for c in todo)))
        messages.extend(
            ToolMessage(
                content="Error: tool-call budget spent.",
                tool_call_id=c["id"],
                name=c["name"],
                status="error",
            )
            for c in refused
        )
        calls += len(todo)
