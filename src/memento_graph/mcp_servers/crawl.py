"""MCP server `crawl`: a web page to clean markdown.

crawl4ai drives Debian's chromium (managed browser) so JavaScript-rendered text is seen, with a
query-aware BM25 filter (or the pruning filter without a query) and a character budget. Without a
browser it falls back to httpx + trafilatura. Only http(s); private addresses are refused unless
`MEMENTO_CRAWL_ALLOW_PRIVATE=1`, and so are URLs carrying a secret of the environment; page time
and size are bounded.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ipaddress
import os
import shutil
import signal
import socket
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from memento_graph.mcp_servers.common import ToolError, clip, new_server, serve
from memento_graph.mcp_servers.secret_env import find_secret
from memento_graph.settings import SETTINGS

mcp = new_server("crawl")
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
_state: dict[str, Any] = {"crawler": None, "lock": None, "broken": ""}


def check_url(url: str) -> None:
    """Refuse non-http(s) URLs, URLs carrying a secret and, unless allowed, private addresses."""
    if name := find_secret(url):
        raise ToolError(f"refused: the URL carries the value of the secret {name}")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ToolError(f"only http(s) URLs can be crawled, not {url[:100]!r}")
    if SETTINGS.crawl_allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 80, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise ToolError(f"cannot resolve {parts.hostname}: {exc}") from None
    for info in infos:
        addr = ipaddress.ip_address(info[4][0])
        if not addr.is_global:
            raise ToolError(f"refused: {parts.hostname} is a private or local address ({addr})")


def browser_path() -> str | None:
    """Return the chromium crawl4ai will use, recording Debian's in ~/.crawl4ai/chromium.path."""
    if SETTINGS.crawl_browser == "none":
        return None
    home = Path(os.environ.get("CRAWL4_AI_BASE_DIRECTORY") or Path.home()) / ".crawl4ai"
    record = home / "chromium.path"
    if record.is_file() and os.access(record.read_text().strip(), os.X_OK):
        return record.read_text().strip()
    found = next(
        filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None
    )
    if found:
        with contextlib.suppress(OSError):
            home.mkdir(parents=True, exist_ok=True)
            record.write_text(found)
    return found


async def _crawler() -> Any:
    if _state["lock"] is None:
        _state["lock"] = asyncio.Lock()
    async with _state["lock"]:
        if _state["crawler"] is None:
            os.environ.setdefault("CRAWL4AI_NO_CLOUD_NOTICE", "1")
            from crawl4ai import AsyncWebCrawler, BrowserConfig

            config = BrowserConfig(
                use_managed_browser=True,
                headless=True,
                verbose=False,
                extra_args=BROWSER_ARGS,
                debugging_port=_free_port(),
            )
            crawler = AsyncWebCrawler(config=config)
            await crawler.start()
            _state["crawler"] = crawler
    return _state["crawler"]


def _free_port() -> int:
    """Return a free local port: crawl4ai kills whatever listens on its debugging port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def kill_browser(*_: Any) -> None:
    """Kill the managed chromium at once (it runs in its own process group)."""
    with contextlib.suppress(Exception):
        strategy = _state["crawler"].crawler_strategy
        strategy.browser_manager.managed_browser.browser_process.kill()
    if _ and _[0] == signal.SIGTERM:
        os._exit(0)


def _content_filter(query: str) -> Any:
    """BM25 for a query (relevant passages), else pruning (boilerplate out)."""
    from crawl4ai import content_filter_strategy as filters

    if query:
        return filters.BM25ContentFilter(
            user_query=query, bm25_threshold=SETTINGS.crawl_bm25_threshold
        )
    pruning = getattr(filters, "PruningContentFilterLXML", filters.PruningContentFilter)
    return pruning()


async def with_browser(url: str, query: str, budget: int) -> str:
    """Render `url` in chromium; return the query's passages, or the page (pruned if over budget)."""
    from crawl4ai import CacheMode, CrawlerRunConfig
    from crawl4ai.markdown_generation_strategy import DefaultMarkdownGenerator

    content_filter = _content_filter(query)
    config = CrawlerRunConfig(
        cache_mode=CacheMode.BYPASS,
        verbose=False,
        page_timeout=int(SETTINGS.crawl_timeout * 1000),
        markdown_generator=DefaultMarkdownGenerator(content_filter=content_filter),
    )
    crawler = await _crawler()
    result = await asyncio.wait_for(crawler.arun(url, config=config), SETTINGS.crawl_timeout + 5)
    if not result.success:
        raise ToolError(f"crawl failed: {result.error_message or result.status_code}")
    markdown = result.markdown
    fit = getattr(markdown, "fit_markdown", "") or ""
    raw = getattr(markdown, "raw_markdown", "") or str(markdown or "")
    if fit.strip() and (query or len(raw) > budget):
        return fit
    return raw


async def without_browser(url: str, query: str) -> str:
    """Fetch `url` with httpx (bounded size, checked redirects) and extract it with trafilatura."""
    import trafilatura

    body = bytearray()
    max_bytes = SETTINGS.crawl_max_bytes
    async with httpx.AsyncClient(timeout=SETTINGS.crawl_timeout, follow_redirects=False) as client:
        for _ in range(5):
            async with client.stream("GET", url, headers={"user-agent": "memento-graph"}) as resp:
                if resp.is_redirect and "location" in resp.headers:
                    url = str(resp.url.join(resp.headers["location"]))
                    check_url(url)
                    continue
                resp.raise_for_status()
                async for chunk in resp.aiter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise ToolError(f"page larger than {max_bytes} bytes")
                break
    html = body.decode("utf-8", errors="replace")
    text = trafilatura.extract(html, output_format="markdown", include_links=True, url=url)
    return text or trafilatura.html2txt(html) or ""


async def _browser_text(url: str, query: str, budget: int) -> str | None:
    """Crawl with the browser; None when it cannot start (twice in a row: never again)."""
    for _ in range(2):
        if _state["broken"]:
            return None
        try:
            text = await with_browser(url, query, budget)
            _state["failures"] = 0
            return text
        except ToolError:
            raise
        except TimeoutError:
            raise ToolError(f"page did not load within {SETTINGS.crawl_timeout:g} s") from None
        except Exception as exc:  # noqa: BLE001 - a browser that cannot start
            reason = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            sys.stderr.write(f"crawl: browser failed ({reason})\n")
            await close()
            _state["crawler"] = None
            _state["failures"] = _state.get("failures", 0) + 1
            if _state["failures"] >= 2:
                _state["broken"] = reason
    return None


@mcp.tool()
async def crawl_page(url: str, query: str = "", max_chars: int = 8_000) -> str:
    """Fetch a web page (JavaScript rendered) as clean markdown.

    With `query`, keep the passages most relevant to it; output is cut to `max_chars`.
    """
    check_url(url)
    budget = max(500, min(max_chars, 50_000))
    engine = "browser"
    text = await _browser_text(url, query, budget) if browser_path() else None
    if text is None:
        engine = "http (no browser)"
        try:
            text = await without_browser(url, query)
        except httpx.HTTPError as exc:
            raise ToolError(f"fetch failed: {type(exc).__name__}: {exc}") from None
    return f"[{url} via {engine}]\n" + clip(text.strip() or "(no text found)", budget)


async def close() -> None:
    """Close the browser."""
    if _state["crawler"] is not None:
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(_state["crawler"].close(), 1.5)
        kill_browser()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, kill_browser)
    atexit.register(kill_browser)
    serve(mcp, on_exit=close)
