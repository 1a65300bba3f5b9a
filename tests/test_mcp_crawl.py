"""The crawl server over stdio: a JavaScript-rendered page through the real browser, and its limits."""

from __future__ import annotations

import pytest

from fixtures.mcp_support import LocalHTTP, context_for
from memento_graph.toolbox import open_toolbox

pytestmark = pytest.mark.integration  # processes: see conftest.py

PAGE = """<html><head><title>Lighthouse</title></head><body>
<h1>The lighthouse keeper</h1>
<div id="late"></div>
<p>The harbour has three piers and a small fish market that opens at dawn every day.</p>
<p>Unrelated paragraph about the weather, the wind and the clouds over the northern hills.</p>
<script>
document.getElementById('late').innerHTML =
  '<p>Rendered by JavaScript: the keeper is named Ingrid Solberg and she lights the lamp at dusk.</p>';
</script></body></html>"""


def pages():
    return {
        "/page.html": lambda h: (200, "text/html", PAGE),
        "/big.html": lambda h: (200, "text/html", "<p>" + "x" * 50_000 + "</p>"),
        "/hop": lambda h: (302, "text/plain", b""),
    }


async def test_javascript_page_through_the_browser(tmp_path, monkeypatch):
    site = LocalHTTP(pages())
    monkeypatch.setenv("MEMENTO_CRAWL_ALLOW_PRIVATE", "1")
    monkeypatch.delenv("MEMENTO_CRAWL_BROWSER", raising=False)
    try:
        async with open_toolbox(context_for(tmp_path, "crawl")) as box:
            crawl = box.find("crawl", "crawl_page")
            full = await crawl.ainvoke({"url": site.url + "/page.html"})
            focused = await crawl.ainvoke(
                {"url": site.url + "/page.html", "query": "who is the lighthouse keeper Ingrid"}
            )
            short = await crawl.ainvoke({"url": site.url + "/page.html", "max_chars": 500})
    finally:
        site.stop()
    assert full.startswith(f"[{site.url}/page.html via browser]"), full
    assert "Rendered by JavaScript: the keeper is named Ingrid Solberg" in full
    assert "# The lighthouse keeper" in full
    assert "Ingrid Solberg" in focused and "northern hills" not in focused
    assert len(short) < 700


async def test_fallback_without_browser_and_limits(tmp_path, monkeypatch):
    site = LocalHTTP(pages())
    monkeypatch.setenv("MEMENTO_CRAWL_BROWSER", "none")
    monkeypatch.setenv("MEMENTO_CRAWL_MAX_BYTES", "20000")
    try:
        async with open_toolbox(context_for(tmp_path, "crawl")) as box:
            crawl = box.find("crawl", "crawl_page")
            private = await crawl.ainvoke({"url": site.url + "/page.html"})
            monkeypatch.setenv("MEMENTO_CRAWL_ALLOW_PRIVATE", "1")
        async with open_toolbox(context_for(tmp_path, "crawl")) as box:
            crawl = box.find("crawl", "crawl_page")
            static = await crawl.ainvoke({"url": site.url + "/page.html"})
            big = await crawl.ainvoke({"url": site.url + "/big.html"})
            file_url = await crawl.ainvoke({"url": "file:///etc/passwd"})
            missing = await crawl.ainvoke({"url": site.url + "/missing"})
    finally:
        site.stop()
    assert private.startswith("Error: refused:") and "private or local address" in private
    assert static.startswith(f"[{site.url}/page.html via http (no browser)]")
    assert "three piers" in static and "Ingrid" not in static  # no JavaScript without a browser
    assert big.startswith("Error: page larger than 20000 bytes")
    assert file_url.startswith("Error: only http(s) URLs")
    assert missing.startswith("Error: fetch failed: HTTPStatusError")
