"""Live progress events the nodes send on LangGraph's custom stream (`stream_mode="custom"`).

Each event is a JSON-ready dict with an `event` kind; `memento run` prints them as they come
(progress.py) and LangGraph's server streams them to clients that ask for "custom".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_core.messages.tool import ToolCall

    from memento_graph.state import Subtask

SUBTASK_STARTED = "subtask_started"
"""A subtask began executing: `subtask` (its key) and `description`."""
TOOL_CALL = "tool_call"
"""The executor called a tool (sent before the tool runs): `subtask`, `tool` and `args`."""


def subtask_started(subtask: Subtask) -> dict[str, Any]:
    """Return the event of a subtask starting to execute."""
    return {
        "event": SUBTASK_STARTED,
        "subtask": subtask["key"],
        "description": subtask["description"],
    }


def tool_call(subtask_key: str, call: ToolCall) -> dict[str, Any]:
    """Return the event of a tool call the executor is about to make."""
    return {"event": TOOL_CALL, "subtask": subtask_key, "tool": call["name"], "args": call["args"]}
