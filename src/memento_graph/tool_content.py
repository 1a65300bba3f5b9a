"""What MCP tools give beyond text, and the tools this client cannot call.

A tool's result reaches the executor as text; images (base64 image content) travel beside it as
the tool's artifact, and a run whose executor sees images (`executor_vision`) gets them as image
content in a user message after the tool results: OpenAI's Chat Completions accept only text in
a `tool` message. Tools whose `execution.taskSupport` is "required" (MCP 2025-11) answer only
task-augmented calls, which this client does not make: they are not loaded.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import BaseTool

if TYPE_CHECKING:
    from mcp.types import Tool

log = logging.getLogger(__name__)

MAX_IMAGES = 4  # per tool result: more would crowd the executor's context (and cost)
SHOWN_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")  # what OpenAI accepts
ATTACHED = "(image {n} of this result is attached in the next message)"
INTRO = "Images returned by the tool calls above, in order:"


def byte_size(data: str) -> int:
    """Return the size in bytes of base64 data."""
    data = data.strip()
    return len(data) * 3 // 4 - (len(data) - len(data.rstrip("=")))


def content_text(content: Any) -> str:
    """Render MCP tool output (LangChain content blocks) as plain text, media as placeholders."""
    if isinstance(content, str):
        return content
    if hasattr(content, "content"):  # a ToolMessage returned by an interceptor
        return content_text(content.content)
    parts = []
    for block in content or []:
        if isinstance(block, str):
            parts.append(block)
        elif block.get("type") == "text":
            parts.append(block.get("text", ""))
        else:
            mime = block.get("mime_type") or "unknown type"
            if block.get("url"):
                parts.append(f"[{block.get('type', 'data')} ({mime}): {block['url']}]")
            else:
                size = byte_size(block.get("base64") or "")
                parts.append(f"[{block.get('type', 'data')} ({mime}, {size} bytes)]")
    return "\n".join(parts)


def images_of(content: Any) -> list[dict[str, Any]]:
    """Return the base64 image blocks of MCP tool output (LangChain content blocks)."""
    if not isinstance(content, list):
        return []
    return [
        {"type": "image", "base64": b["base64"], "mime_type": b.get("mime_type") or ""}
        for b in content
        if isinstance(b, dict) and b.get("type") == "image" and b.get("base64")
    ]


def attach_images(results: list[ToolMessage], vision: bool, max_bytes: int) -> HumanMessage | None:
    """Return the images of these tool results as a user message (None when there are none).

    Each tool message gets a note per image: attached, or why not (vision off, past `MAX_IMAGES`
    of one result, larger than `max_bytes`, a type models do not take).
    """
    blocks: list[Any] = []
    for message in results:
        artifact = message.artifact
        images = artifact.get("images") if isinstance(artifact, dict) else None
        notes = []
        for i, image in enumerate(images or [], 1):
            why = _not_shown(image, i, vision, max_bytes)
            if why:
                notes.append(f"(image {i}: {why})")
            else:
                blocks.append(image)
                notes.append(ATTACHED.format(n=i))
        if notes and isinstance(message.content, str):
            message.content = "\n".join([message.content, *notes])
    if not blocks:
        return None
    return HumanMessage(content=[{"type": "text", "text": INTRO}, *blocks])


def _not_shown(image: dict[str, Any], i: int, vision: bool, max_bytes: int) -> str:
    if not vision:
        return "not shown: this model is set to read text only"
    if i > MAX_IMAGES:
        return f"not shown: at most {MAX_IMAGES} images of one result are shown"
    size = byte_size(image["base64"])
    if size > max_bytes:
        return f"not shown: {size} bytes, more than the {max_bytes} allowed"
    if image["mime_type"] not in SHOWN_TYPES:
        return f"not shown: {image['mime_type'] or 'unknown type'} is not an image type models take"
    return ""


async def load_callable_tools(session: Any, server: str) -> tuple[list[BaseTool], list[str]]:
    """List a server's tools (every page); return those this client can call, and the others' names.

    A tool whose `execution.taskSupport` is "required" only answers task-augmented calls.
    """
    from langchain_mcp_adapters.tools import convert_mcp_tool_to_langchain_tool

    listed: list[Tool] = []
    cursor = None
    for _ in range(1000):
        page = await session.list_tools(cursor=cursor)
        listed.extend(page.tools or [])
        cursor = page.nextCursor
        if not cursor:
            break
    callable_, hidden = [], []
    for tool in listed:
        execution = getattr(tool, "execution", None)
        if getattr(execution, "taskSupport", None) == "required":
            hidden.append(tool.name)
        else:
            callable_.append(convert_mcp_tool_to_langchain_tool(session, tool, server_name=server))
    return callable_, hidden
