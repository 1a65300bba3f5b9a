"""execute_with_tools: one subtask in a tool-calling loop, bounded by `max_tool_calls`."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from functools import partial

import openai
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.messages.tool import ToolCall
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langchain_openai import ChatOpenAI
from langgraph.runtime import Runtime

from memento_graph import live, prompts
from memento_graph.context import Context
from memento_graph.llm import add_usage, chat_model, is_transient, text_of, was_cut
from memento_graph.nodes.forced_call import first_call
from memento_graph.resources import resources_of
from memento_graph.state import StateUpdate, SubtaskInput, SubtaskResult
from memento_graph.tool_content import attach_images

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


async def _call_tool(tools: dict[str, BaseTool], call: ToolCall) -> ToolMessage:
    """Run one tool call; any failure goes back to the model as an error tool message.

    The message's artifact keeps what the tool gave beside its text (an MCP tool's images).
    """
    tool = tools.get(call["name"])
    try:
        if tool is None:
            raise LookupError(f"no tool named {call['name']!r}; available: {', '.join(tools)}")
        output = await tool.ainvoke({**call, "type": "tool_call"})
        if not isinstance(output, ToolMessage):
            output = ToolMessage(content=str(output), tool_call_id=call["id"], name=call["name"])
        if not isinstance(output.content, str):
            output.content = str(output.content)
        return output
    except Exception as exc:  # noqa: BLE001 - every tool error is the model's to handle
        return ToolMessage(
            content=f"Error: {type(exc).__name__}: {exc}",
            tool_call_id=call["id"],
            name=call["name"],
            status="error",
        )


async def execute_with_tools(
    state: SubtaskInput, runtime: Runtime[Context], config: RunnableConfig
) -> StateUpdate:
    """Execute one subtask: call tools until the executor answers or the budget is spent.

    The executor is offered the tools the planner named for the subtask (all tools when it named
    none that is loaded); a call to any other loaded tool still runs. When exactly one tool is
    named, the first call is forced (`tool_choice`, or the tool's arguments asked as JSON where
    a server ignores `tool_choice`).
    """
    ctx = runtime.context
    subtask = state["subtask"]
    every = {t.name: t for t in await resources_of(config).tools()}
    wanted = [n for n in subtask.get("tools") or [] if n in every]
    offered = {n: every[n] for n in wanted} if wanted else every
    llm = chat_model(ctx.executor_model, ctx.model_timeout, ctx.executor_max_tokens)
    others = sorted(set(every) - set(offered))
    messages: list[BaseMessage] = [
        SystemMessage(content=prompts.EXECUTOR_SYSTEM),
        HumanMessage(
            content=prompts.executor_request(
                state["task"], subtask, state["dependencies"], state["files"], others
            )
        ),
    ]
    thread_id = str(config.get("configurable", {}).get("thread_id", ""))
    tokens = {"input": 0, "output": 0}
    force = wanted[0] if len(wanted) == 1 else None
    images = partial(attach_images, vision=ctx.executor_vision, max_bytes=ctx.tool_image_max_bytes)
    result: SubtaskResult
    say = runtime.stream_writer  # live progress (live.py); a no-op unless "custom" is streamed
    async with _limit(thread_id, ctx.concurrency):
        say(live.subtask_started(subtask))
        try:
            output, calls = await _loop(
                llm,
                offered,
                every,
                messages,
                ctx.max_tool_calls,
                tokens,
                force,
                images,
                announce=lambda call: say(live.tool_call(subtask["key"], call)),
            )
            result = {"status": "done", "output": output or "(empty result)", "tool_calls": calls}
        except openai.APIStatusError as exc:
            if is_transient(exc):
                raise  # the node's RetryPolicy retries it
            result = {"status": "failed", "output": f"model error: {exc.message}", "tool_calls": 0}
    if subtask.get("tools") and result["tool_calls"] == 0:
        result["no_tool_call"] = True  # the planner asked for a tool, none was called
    return {"results": {subtask["key"]: result}, "tokens": tokens}


async def _loop(
    llm: ChatOpenAI,
    offered: dict[str, BaseTool],
    every: dict[str, BaseTool],
    messages: list[BaseMessage],
    budget: int,
    tokens: dict[str, int],
    force: str | None,
    images: Callable[[list[ToolMessage]], HumanMessage | None],
    announce: Callable[[ToolCall], None] = lambda call: None,
) -> tuple[str, int]:
    """Run the ReAct loop; return the executor's final text and the number of tool calls.

    `images` turns the images of a round of tool results into a user message (or None);
    `announce` is told of each tool call before it runs.
    """
    bound = llm.bind_tools(list(offered.values())) if offered else llm
    calls = 0
    while True:
        if calls >= budget:
            messages.append(HumanMessage(content=prompts.BUDGET_SPENT))
        if force and calls == 0:
            reply = await first_call(llm, offered[force], messages, tokens)
        else:
            reply = await bound.ainvoke(messages)
            add_usage(tokens, reply)
        assert isinstance(reply, AIMessage)
        if not reply.tool_calls or calls >= budget or was_cut(reply):
            return text_of(reply).strip(), calls  # a reply cut short calls no tool
        messages.append(reply)
        room = budget - calls
        todo, refused = reply.tool_calls[:room], reply.tool_calls[room:]
        for call in todo:
            announce(call)
        results = list(await asyncio.gather(*(_call_tool(every, c) for c in todo)))
        messages.extend(results)
        messages.extend(
            ToolMessage(
                content="Error: tool-call budget spent.",
                tool_call_id=c["id"],
                name=c["name"],
                status="error",
            )
            for c in refused
        )
        shown = images(results)
        if shown is not None:  # after every tool message of the round, as the API requires
            messages.append(shown)
        calls += len(todo)
