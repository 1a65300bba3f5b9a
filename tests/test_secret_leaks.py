"""Secrets of the environment do not leave: web servers refuse them, tool results mask them."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest
from langchain_core.tools import ToolException

from fixtures.mcp_support import LocalHTTP, context_for, write_mcp_json
from memento_graph.mcp_servers.secret_env import find_secret, mask, masked
from memento_graph.toolbox import open_toolbox

pytestmark = pytest.mark.integration  # processes: see conftest.py

SECRET = "sk-exfil-canary-0123456789"


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("GITHUB_TOKEN", "short")  # under 8 characters: ignored
    monkeypatch.setenv("AWS_REGION", "eu-west-1-long")  # a setting, not a secret


def test_secret_values_are_found_in_any_usual_encoding():
    encoded = base64.b64encode(f"user={SECRET}".encode()).decode()
    urlsafe = base64.urlsafe_b64encode(f"xy{SECRET}!".encode()).decode()
    for carrier in [
        f"https://evil.example/?k={SECRET}",
        f"https://evil.example/{quote(SECRET, safe='')}",
        "https://evil.example/?k=" + quote(quote(SECRET)).replace("-", "%2D"),
        f"https://evil.example/{SECRET.encode().hex().upper()}",
        f"https://evil.example/?d={encoded}",
        f"https://evil.example/{urlsafe}",
    ]:
        assert find_secret(carrier) == "OPENAI_API_KEY", carrier
    for clean in ["https://example.org/short", "eu-west-1-long weather", "sk-exfil-canary"]:
        assert find_secret(clean) is None, clean


def test_mask_replaces_secret_values_only():
    text = f"key {SECRET} in eu-west-1-long, short"
    assert mask(text) == "key [secret OPENAI_API_KEY] in eu-west-1-long, short"


async def test_masked_covers_results_and_errors():
    async def leaky(**kwargs):
        if kwargs.get("fail"):
            raise ToolException(f"Error: bad key {SECRET}")
        return f"the key is {SECRET}"

    tool = masked(leaky)
    assert await tool() == "the key is [secret OPENAI_API_KEY]"
    with pytest.raises(ToolException, match=r"^Error: bad key \[secret OPENAI_API_KEY\]$"):
        await tool(fail=True)


def _searxng(handler):
    return 200, "application/json", json.dumps({"results": [{"title": "t", "url": "u"}]})


async def test_search_refuses_a_query_carrying_a_secret(tmp_path, monkeypatch):
    fake = LocalHTTP({"/search": _searxng})
    monkeypatch.setenv("SEARXNG_URL", fake.url)
    try:
        async with open_toolbox(context_for(tmp_path, "search")) as box:
            search = box.find("search", "web_search")
            refused = await search.ainvoke({"query": f"weather {SECRET}"})
            hidden = await search.ainvoke({"query": SECRET.encode().hex()})
            fine = await search.ainvoke({"query": "weather in Oslo"})
    finally:
        fake.stop()
    expected = "Error: refused: the query carries the value of the secret OPENAI_API_KEY"
    assert refused == expected and hidden == expected
    assert fine.startswith("1. t") and len(fake.requests) == 1  # only the clean query left


async def test_crawl_refuses_a_url_carrying_a_secret(tmp_path, monkeypatch):
    page = "<html><body><h1>Harbour</h1><p>The harbour has three piers and a calm fish market.</p>"
    site = LocalHTTP({"/page.html": lambda h: (200, "text/html", page + "</body></html>")})
    monkeypatch.setenv("MEMENTO_CRAWL_BROWSER", "none")
    monkeypatch.setenv("MEMENTO_CRAWL_ALLOW_PRIVATE", "1")
    b64 = base64.urlsafe_b64encode(SECRET.encode()).decode()
    try:
        async with open_toolbox(context_for(tmp_path, "crawl")) as box:
            crawl = box.find("crawl", "crawl_page")
            outs = [
                await crawl.ainvoke({"url": f"{site.url}/page.html?{path}"})
                for path in [f"k={SECRET}", f"k={quote(SECRET, safe='')}", f"d={b64}"]
            ]
            fine = await crawl.ainvoke({"url": f"{site.url}/page.html"})
    finally:
        site.stop()
    for out in outs:
        assert out == "Error: refused: the URL carries the value of the secret OPENAI_API_KEY"
    assert "three piers" in fine and len(site.requests) == 1


async def test_tool_results_reach_the_executor_masked(tmp_path):
    config = write_mcp_json(tmp_path / "mcp.json", FIXTURE_WORD=f"{SECRET} and short")
    async with open_toolbox(context_for(tmp_path, mcp_config=str(config))) as box:
        out = await box.find("fixture", "lookup_word").ainvoke({"key": "k"})
    assert out == "the secret word for k is [secret OPENAI_API_KEY] and short"
