"""MCP server `search`: web search through the SearxNG instance at `SEARXNG_URL`.

The host is configuration, never a tool argument, so the model cannot point it elsewhere; a query
carrying a secret of the environment is refused (it would leave in the URL).
"""

from __future__ import annotations

import httpx

from memento_graph.mcp_servers.common import ToolError, new_server, serve
from memento_graph.mcp_servers.secret_env import find_secret
from memento_graph.settings import SETTINGS

mcp = new_server("search")
MAX_RESULTS = 10
SNIPPET = 400


@mcp.tool()
async def web_search(query: str, max_results: int = 5, page: int = 1) -> str:
    """Search the web; returns title, url and snippet of up to `max_results` (<= 10) results."""
    base = SETTINGS.searxng_url.rstrip("/")
    if not base:
        raise ToolError("web search is not configured (set SEARXNG_URL)")
    if not query.strip():
        raise ToolError("empty query")
    if name := find_secret(query):
        raise ToolError(f"refused: the query carries the value of the secret {name}")
    params: dict[str, str | int] = {
        "q": query[:500],
        "format": "json",
        "pageno": max(1, min(page, 10)),
    }
    try:
        async with httpx.AsyncClient(timeout=20, follow_redirects=False) as client:
            resp = await client.get(f"{base}/search", params=params)
            resp.raise_for_status()
            results = resp.json().get("results", [])
    except (httpx.HTTPError, ValueError) as exc:
        raise ToolError(f"search failed: {type(exc).__name__}: {exc}") from None
    lines = []
    for i, item in enumerate(results[: max(1, min(max_results, MAX_RESULTS))], 1):
        snippet = " ".join(str(item.get("content") or "").split())[:SNIPPET]
        lines.append(
            f"{i}. {item.get('title', '').strip()}\n   {item.get('url', '')}\n   {snippet}"
        )
    return "\n".join(lines) or f"no results for {query!r}"


if __name__ == "__main__":
    serve(mcp)
