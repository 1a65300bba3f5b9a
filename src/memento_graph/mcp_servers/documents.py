"""MCP server `documents`: PDF, DOCX, PPTX, XLSX, CSV, HTML, JSON, XML, ZIP, EPUB, text to markdown.

Conversion is done by MarkItDown (local files only) and cached, so paging through a large document
(offset / limit) converts it once.
"""

from __future__ import annotations

import functools
from pathlib import Path

import anyio

from memento_graph.mcp_servers.common import (
    ToolError,
    new_server,
    page,
    read_roots,
    safe_path,
    serve,
)

mcp = new_server("documents")
MAX_BYTES = 200 * 1024 * 1024


@functools.lru_cache(maxsize=16)
def _convert(path: str, mtime: float, size: int) -> str:
    from markitdown import MarkItDown

    if size > MAX_BYTES:
        raise ToolError(f"file too large ({size} bytes; limit {MAX_BYTES})")
    try:
        result = MarkItDown(enable_plugins=False).convert_local(path)
    except Exception as exc:  # MarkItDown raises many kinds; the model needs one line
        raise ToolError(f"cannot convert {Path(path).name}: {type(exc).__name__}: {exc}") from None
    return result.text_content or ""


def to_markdown(path: str) -> str:
    """Return the markdown of a local document inside the allowed folders."""
    target = safe_path(path, read_roots())
    if not target.is_file():
        raise ToolError(f"no such file: {path}")
    stat = target.stat()
    return _convert(str(target), stat.st_mtime, stat.st_size)


@mcp.tool()
async def read_document(path: str, offset: int = 0, limit: int = 20_000) -> str:
    """Read a document (PDF, DOCX, PPTX, XLSX, CSV, HTML, JSON, XML, ZIP, EPUB, text) as markdown.

    Returns `limit` characters from `offset`; the header tells the next offset.
    """
    text = await anyio.to_thread.run_sync(to_markdown, path)
    return page(text, offset, limit)


@mcp.tool()
async def search_document(path: str, query: str, context: int = 300, max_hits: int = 10) -> str:
    """Find a phrase (case-insensitive) in a document; returns the hits with their offsets."""
    text = await anyio.to_thread.run_sync(to_markdown, path)
    hits: list[str] = []
    needle, lower, start = query.lower(), text.lower(), 0
    if not needle:
        raise ToolError("empty query")
    while len(hits) < max(1, min(max_hits, 50)) and (at := lower.find(needle, start)) >= 0:
        lo, hi = max(0, at - context), at + len(needle) + context
        hits.append(f"[offset {at}] ...{text[lo:hi]}...")
        start = at + len(needle)
    return "\n\n".join(hits) or f"no match for {query!r}"


if __name__ == "__main__":
    serve(mcp)
