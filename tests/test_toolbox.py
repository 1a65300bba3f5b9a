"""The toolbox: mcp.json servers, clashes, timeouts, crashes and failures to start."""

from __future__ import annotations

import json
import logging
import sys
import time

import pytest
from langchain_core.tools import tool

from fixtures.mcp_support import FIXTURE_SERVER, context_for, write_mcp_json
from memento_graph.context import Context
from memento_graph.errors import MementoError
from memento_graph.tool_source import ToolSource
from memento_graph.toolbox import content_text, open_toolbox

pytestmark = pytest.mark.integration  # processes: see conftest.py


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


async def test_third_party_server_with_clash_and_plain_text(tmp_path):
    config = write_mcp_json(tmp_path / "mcp.json", FIXTURE_WORD="albatross")
    source = ToolSource(context_for(tmp_path, "math", mcp_config=str(config)), [add])
    try:
        box = await source.toolbox()
        assert box.servers == {
            "search": "disabled",
            "crawl": "disabled",
            "documents": "disabled",
            "code": "disabled",
            "spreadsheet": "disabled",
            "math": "ready",
            "media": "disabled",
            "fixture": "ready",
        }
        names = [t.name for t in await source.tools()]
        assert names[0] == "add" and "evaluate" in names and "fixture_evaluate" in names
        assert box.clashes == [
            "tool 'evaluate' of server 'fixture' renamed to 'fixture_evaluate' "
            "(the name was taken by 'math')"
        ]
        assert box.tool_server["evaluate"] == "math"
        word = await box.find("fixture", "lookup_word").ainvoke({"key": "k1"})
        assert word == "the secret word for k1 is albatross"  # plain text, not content blocks
        clash = {t.name: t for t in await source.tools()}["fixture_evaluate"]
        assert await clash.ainvoke({"expression": "2"}) == "fixture evaluated 2"
        picture = await box.find("fixture", "picture").ainvoke({})
        assert picture == "[image (image/png, 24 bytes)]"  # what it is, not its data
        assert "background_job" not in names and box.find("fixture", "background_job") is None
        assert box.hidden == [
            "tool 'background_job' of server 'fixture' is not offered: it needs task-augmented "
            "calls (execution.taskSupport 'required'), which memento does not make"
        ]
    finally:
        await source.aclose()
    assert box.workspace is not None and not box.workspace.exists()  # tidied up


async def test_a_local_tool_name_taken_renames_the_mcp_tool(tmp_path):
    config = write_mcp_json(tmp_path / "mcp.json", FIXTURE_WORD="heron")

    @tool
    def lookup_word(key: str) -> str:
        """A plain tool with the fixture server's tool name."""
        return "local"

    source = ToolSource(context_for(tmp_path, mcp_config=str(config)), [lookup_word])
    try:
        tools = {t.name: t for t in await source.tools()}
        assert await tools["lookup_word"].ainvoke({"key": "k"}) == "local"
        renamed = await tools["fixture_lookup_word"].ainvoke({"key": "k"})
        assert renamed == "the secret word for k is heron"
    finally:
        await source.aclose()


async def test_cached_catalogue_offers_the_tools_before_any_server_starts(tmp_path):
    spawns = tmp_path / "spawns.txt"
    config = write_mcp_json(tmp_path / "mcp.json", FIXTURE_WORD="wren", FIXTURE_SPAWNS=str(spawns))
    context = context_for(tmp_path, mcp_config=str(config))
    first = ToolSource(context)
    try:
        loaded = {t.name: t for t in await first.tools()}  # no cache yet: waits for the servers
    finally:
        await first.aclose()
    assert len(spawns.read_text().splitlines()) == 1
    second = ToolSource(context)
    try:
        cached = {t.name: t for t in await second.tools()}
        assert list(cached) == list(loaded)
        assert all(t.metadata == {"server": "fixture", "cached": True} for t in cached.values())
        assert cached["lookup_word"].description == loaded["lookup_word"].description
        assert len(spawns.read_text().splitlines()) == 1  # nothing started for the catalogue
        word = await cached["lookup_word"].ainvoke({"key": "k2"})  # the first call starts it
        assert word == "the secret word for k2 is wren"
        assert len(spawns.read_text().splitlines()) == 2
        assert "cached" not in (await second.tools())[0].metadata  # now the loaded tools
    finally:
        await second.aclose()
    config.write_text(config.read_text().replace("wren", "finch"))  # another configuration
    third = ToolSource(context_for(tmp_path, mcp_config=str(config)))
    try:
        assert "cached" not in (await third.tools())[0].metadata
    finally:
        await third.aclose()


async def test_timeout_and_crash_become_tool_errors(tmp_path, caplog):
    other = {"command": sys.executable, "args": [str(FIXTURE_SERVER)]}
    config = write_mcp_json(tmp_path / "mcp.json", servers={"other": other})
    context = context_for(tmp_path, mcp_config=str(config), tool_timeout=2.0)
    async with open_toolbox(context) as box:
        slow = box.find("fixture", "slow")
        started = time.monotonic()
        out = await slow.ainvoke({"seconds": 30})
        assert time.monotonic() - started < 10
        assert out == "Error: slow timed out after 2 s"
        assert await slow.ainvoke({"seconds": 0}) == "woke up"  # the session is still usable
        with caplog.at_level(logging.WARNING, logger="memento_graph.toolbox"):
            crashed = await box.find("fixture", "crash").ainvoke({})
            again = await box.find("fixture", "lookup_word").ainvoke({"key": "x"})
        assert crashed.startswith("Error:")
        assert again == f"Error: MCP server 'fixture' is not available ({box.servers['fixture']})"
        assert box.servers["fixture"].startswith("failed: crashed")
        assert sum("fixture stopped" in r.getMessage() for r in caplog.records) == 1  # once
        # the other server goes on
        other_tool = box.find("other", "lookup_word")
        assert await other_tool.ainvoke({"key": "y"}) == "the secret word for y is pelican"
        assert box.servers["other"] == "ready"


async def test_server_failing_to_start_is_reported_and_skipped(tmp_path, caplog):
    config = write_mcp_json(
        tmp_path / "mcp.json",
        servers={
            "ghost": {"command": str(tmp_path / "no-such-binary")},
            "dies": {"command": "python3", "args": ["-c", "import sys; sys.exit(1)"]},
        },
    )
    with caplog.at_level(logging.WARNING, logger="memento_graph.toolbox"):
        async with open_toolbox(context_for(tmp_path, "math", mcp_config=str(config))) as box:
            assert box.servers["math"] == "ready" and box.servers["fixture"] == "ready"
            assert box.servers["ghost"].startswith("failed: ")
            assert "no-such-binary" in box.servers["ghost"]
            assert box.servers["dies"] == "failed: exited with code 1 (no stderr output)"
            assert {t.metadata["server"] for t in box.tools} == {"math", "fixture"}
    warnings = [r.getMessage() for r in caplog.records]
    assert sum("ghost" in w for w in warnings) == 1 and sum("dies" in w for w in warnings) == 1


async def test_server_that_hangs_at_start_is_reported_and_skipped(tmp_path, caplog, monkeypatch):
    monkeypatch.setenv("MEMENTO_SERVER_START_TIMEOUT", "0.5")
    config = tmp_path / "mcp.json"
    hang = {"command": sys.executable, "args": ["-c", "import time; time.sleep(60)"]}
    config.write_text(json.dumps({"mcpServers": {"hangs": hang}}))
    with caplog.at_level(logging.WARNING, logger="memento_graph.toolbox"):
        async with open_toolbox(context_for(tmp_path, mcp_config=str(config))) as box:
            assert box.servers["hangs"] == "failed: did not start within 0.5 s"
            assert box.tools == []
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings == ["MCP server hangs failed to start: did not start within 0.5 s"]


async def test_config_errors_are_one_line_memento_errors(tmp_path):
    bad = tmp_path / "bad.json"
    cases = {
        "not json": "is not valid JSON",
        json.dumps({"server": {}}): 'has no "mcpServers" object',
        json.dumps({"mcpServers": {"x": {"args": []}}}): 'needs a "command" or a "url"',
        json.dumps(
            {"mcpServers": {"x": {"url": "http://h", "transport": "pigeon"}}}
        ): "unknown transport",
    }
    for text, message in cases.items():
        bad.write_text(text)
        with pytest.raises(MementoError, match=message):
            async with open_toolbox(context_for(tmp_path, mcp_config=str(bad))):
                pass
    with pytest.raises(MementoError, match="MCP config not found"):
        async with open_toolbox(context_for(tmp_path, mcp_config=str(tmp_path / "none.json"))):
            pass
    with pytest.raises(MementoError, match="unknown built-in server 'maths'"):
        async with open_toolbox(Context(home=str(tmp_path), disable_servers="maths")):
            pass


async def test_mcp_json_replaces_a_builtin_and_disabled_entries(tmp_path):
    config = write_mcp_json(
        tmp_path / "mcp.json",
        servers={
            "math": {"command": "python3", "args": ["-c", "pass"], "disabled": True},
        },
    )
    async with open_toolbox(context_for(tmp_path, "math", mcp_config=str(config))) as box:
        assert box.servers["math"] == "disabled"
        assert "server 'math' from the MCP config replaces the built-in one" in box.clashes


def test_content_text_renders_blocks():
    assert content_text("plain") == "plain"
    blocks = [
        {"type": "text", "text": "a"},
        {"type": "file", "url": "https://x/f.pdf", "mime_type": "application/pdf"},
        {"type": "image", "base64": "iVBORw0KGgo=", "mime_type": "image/png"},
    ]
    assert content_text(blocks) == (
        "a\n[file (application/pdf): https://x/f.pdf]\n[image (image/png, 8 bytes)]"
    )
