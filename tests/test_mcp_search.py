"""The search server over stdio against a fake SearxNG on 127.0.0.1."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from fixtures.mcp_support import LocalHTTP, context_for
from memento_graph.toolbox import open_toolbox

pytestmark = pytest.mark.integration  # processes: see conftest.py


def searxng(handler):
    query = parse_qs(urlsplit(handler.path).query)
    results = [
        {
            "title": f"Result {i} for {query['q'][0]}",
            "url": f"https://example.org/{i}",
            "content": "Lorem   ipsum " * 100,
        }
        for i in range(1, 21)
    ]
    return 200, "application/json", json.dumps({"query": query["q"][0], "results": results})


async def test_search_through_searxng(tmp_path, monkeypatch):
    fake = LocalHTTP({"/search": searxng})
    monkeypatch.setenv("SEARXNG_URL", fake.url + "/")
    try:
        async with open_toolbox(context_for(tmp_path, "search")) as box:
            search = box.find("search", "web_search")
            assert "url" not in search.args and "host" not in search.args  # host is configuration
            out = await search.ainvoke({"query": "eiffel tower height", "max_results": 3})
            many = await search.ainvoke({"query": "x", "max_results": 500})
    finally:
        fake.stop()
    assert out.startswith(
        "1. Result 1 for eiffel tower height\n   https://example.org/1\n   Lorem ipsum"
    )
    assert "3. Result 3" in out and "4. Result 4" not in out
    assert len(out.splitlines()[2]) <= 3 + 400
    assert "10. Result 10" in many and "11. Result 11" not in many
    sent = parse_qs(urlsplit(fake.requests[0]["path"]).query)
    assert sent["q"] == ["eiffel tower height"] and sent["format"] == ["json"]


async def test_search_not_offered_without_searxng(tmp_path, monkeypatch):
    monkeypatch.delenv("SEARXNG_URL", raising=False)
    async with open_toolbox(context_for(tmp_path, "search")) as box:
        assert box.servers["search"] == "not configured" and box.tools == []


async def test_search_endpoint_down_is_a_tool_error(tmp_path, monkeypatch):
    fake = LocalHTTP({})
    monkeypatch.setenv("SEARXNG_URL", fake.url)
    try:
        async with open_toolbox(context_for(tmp_path, "search")) as box:
            out = await box.find("search", "web_search").ainvoke({"query": "anything"})
    finally:
        fake.stop()
    assert out.startswith("Error: search failed: HTTPStatusError")
