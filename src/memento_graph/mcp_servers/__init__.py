"""Built-in MCP servers, each runnable as `python -m memento_graph.mcp_servers.<module>` over stdio.

This module is the registry: which built-ins exist, the module that runs each, and the environment
variables without which a server is not offered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Builtin:
    """A built-in server: its name, module, and the env vars that configure it (any one suffices)."""

    name: str
    module: str
    description: str
    requires: tuple[str, ...] = ()

    def configured(self, env: Mapping[str, str]) -> bool:
        """Tell whether the server has what it needs to be offered."""
        return not self.requires or any(env.get(var) for var in self.requires)


BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin("search", "search", "Web search through SearxNG", ("SEARXNG_URL",)),
        Builtin("crawl", "crawl", "Web page to clean markdown (crawl4ai + chromium)"),
        Builtin("documents", "documents", "PDF, DOCX, PPTX, XLSX, HTML... to markdown"),
        Builtin("code", "code", "Python and shell in a sandboxed task workspace"),
        Builtin("spreadsheet", "spreadsheet", "Sheets, cell ranges and SQL over CSV/XLSX/Parquet"),
        Builtin("math", "math_tools", "Exact and symbolic math with sympy"),
        Builtin(
            "media",
            "media",
            "Vision questions and audio transcription",
            ("MEMENTO_VISION_MODEL", "MEMENTO_TRANSCRIBE_MODEL"),
        ),
    )
}
