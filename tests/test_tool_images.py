"""Images from tools: image content for a vision executor, placeholders for a text-only one;
tools that need task-augmented calls are never offered."""

from __future__ import annotations

import base64
import json

import pytest
from langchain_core.messages import ToolMessage

from fixtures.mcp_support import write_mcp_json
from memento_graph.agent import open_agent
from memento_graph.context import Context
from memento_graph.tool_content import MAX_IMAGES, attach_images, byte_size
from roles import answer_reply, is_executor, is_first_plan, is_judge, is_replan, tool_plan_reply
from scripted_llm import Reply

PNG = b"\x89PNG\r\n\x1a\n"


def chart(width: int) -> bytes:
    """The PNG the fixture server's `render` tool returns for `width`."""
    return PNG + b"\x07" * (width - len(PNG))


def image(data: bytes, mime: str = "image/png") -> dict:
    return {"type": "image", "base64": base64.b64encode(data).decode(), "mime_type": mime}


def result(*images: dict) -> ToolMessage:
    return ToolMessage(
        content="out", tool_call_id="c1", name="t", artifact={"images": list(images)}
    )


def test_byte_size_of_base64():
    for n in range(0, 40):
        assert byte_size(base64.b64encode(b"x" * n).decode()) == n


def test_images_are_attached_only_with_vision_within_bounds():
    shown = attach_images([result(image(chart(40)))], vision=True, max_bytes=100)
    assert shown is not None
    assert shown.content[1] == image(chart(40))
    off = result(image(chart(40)))
    assert attach_images([off], vision=False, max_bytes=100) is None
    assert off.content == "out\n(image 1: not shown: this model is set to read text only)"
    big = result(image(chart(40)))
    assert attach_images([big], vision=True, max_bytes=39) is None
    assert big.content.endswith("(image 1: not shown: 40 bytes, more than the 39 allowed)")
    svg = result(image(b"<svg/>", "image/svg+xml"))
    assert attach_images([svg], vision=True, max_bytes=100) is None
    assert "image/svg+xml is not an image type models take" in svg.content
    many = result(*(image(chart(10 + i)) for i in range(MAX_IMAGES + 1)))
    shown = attach_images([many, result()], vision=True, max_bytes=100)
    assert shown is not None and len(shown.content) == 1 + MAX_IMAGES
    assert f"at most {MAX_IMAGES} images" in many.content
    assert attach_images([ToolMessage(content="x", tool_call_id="c")], True, 100) is None


def executor_reply(req: dict) -> Reply:
    """Call `render` first; once a tool result is in, answer."""
    if any(m["role"] == "tool" for m in req["messages"]):
        return Reply(content="the chart is drawn")
    return Reply(tool_calls=[("render", {"width": 40})])


def image_parts(req: dict) -> list[dict]:
    return [
        part
        for m in req["messages"]
        if isinstance(m.get("content"), list)
        for part in m["content"]
        if part.get("type") == "image_url"
    ]


@pytest.mark.integration  # an MCP server process
async def test_a_tool_image_reaches_the_executor_only_with_vision(llm, home, tmp_path):
    config = write_mcp_json(tmp_path / "mcp.json")
    llm.rule(is_first_plan, tool_plan_reply(("Render the sales chart", ["render"])))
    llm.rule(is_executor, executor_reply)
    llm.rule(is_replan, answer_reply("drawn"))
    llm.rule(is_judge, Reply(content='{"rationale": "fine", "verdict": "correct"}'))
    text_only = Context(mcp_config=str(config))
    assert text_only.executor_vision is False  # off unless asked for
    async with open_agent(text_only) as agent:  # no cached catalogue: the loaded tools
        assert (await agent.run("Draw the sales chart")).status == "done"
    off = llm.requests(is_executor)[-1]
    tool_message = next(m for m in off["messages"] if m["role"] == "tool")
    assert tool_message["content"] == (
        "chart 40 wide\n[image (image/png, 40 bytes)]\n"
        "(image 1: not shown: this model is set to read text only)"
    )
    assert image_parts(off) == [] and "iVBOR" not in json.dumps(off)
    offered = {t["function"]["name"] for r in llm.requests(is_executor) for t in r["tools"]}
    assert "render" in offered and "background_job" not in offered
    assert "background_job" not in json.dumps(llm.requests(is_first_plan))

    vision = Context(mcp_config=str(config), executor_vision=True)
    async with open_agent(vision) as agent:  # the cached catalogue: stand-ins call the tool
        assert "cached" in (await agent.resources.tools())[0].metadata
        assert (await agent.run("Draw the sales chart again")).status == "done"
        seen = llm.requests(is_executor)[-1]
        small = Context(mcp_config=str(config), executor_vision=True, tool_image_max_bytes=39)
        assert (await agent.with_context(small).run("And once more")).status == "done"
    bounded = llm.requests(is_executor)[-1]
    roles = [m["role"] for m in seen["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "user"]  # images after the results
    assert seen["messages"][3]["content"].endswith(
        "(image 1 of this result is attached in the next message)"
    )
    url = base64.b64encode(chart(40)).decode()
    assert image_parts(seen) == [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{url}"}}
    ]
    assert image_parts(bounded) == []
    assert "40 bytes, more than the 39 allowed" in json.dumps(bounded)
