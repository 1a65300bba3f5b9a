"""The executor's forced first tool call: `tool_choice`, or the tool's arguments asked as JSON."""

from __future__ import annotations

import json
import uuid
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_openai import ChatOpenAI

from memento_graph import prompts
from memento_graph.llm import add_usage, json_reply, text_of


def tool_parameters(tool: BaseTool) -> dict[str, Any]:
    """Return a tool's arguments as a JSON schema (the `parameters` of its OpenAI form)."""
    params = convert_to_openai_tool(tool)["function"].get("parameters") or {}
    return {"type": "object", "properties": {}, **params}


async def first_call(
    llm: ChatOpenAI, tool: BaseTool, messages: list[BaseMessage], tokens: dict[str, int]
) -> AIMessage:
    """Return a reply that calls `tool`: forced with `tool_choice`, else built from JSON arguments.

    Some OpenAI-compatible servers ignore `tool_choice`; then the model is asked for the tool's
    arguments under a JSON schema (a grammar on llama.cpp) and the call is made from them.
    """
    reply = await llm.bind_tools([tool], tool_choice=tool.name).ainvoke(messages)
    add_usage(tokens, reply)
    assert isinstance(reply, AIMessage)
    if reply.tool_calls:
        return reply
    ask = HumanMessage(content=prompts.TOOL_ARGUMENTS.format(name=tool.name))
    answer = await json_reply(llm, tool_parameters(tool), name="arguments").ainvoke(
        [*messages, ask]
    )
    add_usage(tokens, answer)
    try:
        args = json.loads(text_of(answer))  # arguments cut at the length limit do not parse
    except ValueError:
        return reply  # no usable arguments: the executor's own reply stands
    if not isinstance(args, dict):
        return reply
    call = {"name": tool.name, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}"}
    return AIMessage(content="", tool_calls=[call])
