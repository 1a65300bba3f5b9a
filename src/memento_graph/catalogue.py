"""The tool catalogue the planner sees, and its cache keyed by the server configuration.

The cache lets a run plan (and bind the executor's tools) before the servers are up: it holds
each tool's name, server, description and argument schema as the last full start loaded them.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.tools import BaseTool

if TYPE_CHECKING:
    from memento_graph.context import Context

CHARS_PER_TOKEN = 4
CACHE_VERSION = 2  # 2: tools needing task-augmented calls are left out


def server_of(tool: BaseTool) -> str:
    """Return the MCP server a tool comes from (`local` for plain LangChain tools)."""
    return str((tool.metadata or {}).get("server") or "local")


def one_line(text: str, limit: int = 110) -> str:
    """Return the first sentence of a description, at most `limit` characters."""
    text = " ".join((text or "").split())
    first = text.split(". ")[0].rstrip(".")
    return first if len(first) <= limit else first[: limit - 1] + "…"


def tool_catalogue(tools: list[BaseTool], budget_tokens: int) -> str:
    """List the loaded tools by server with one-line descriptions, within `budget_tokens`.

    Past the budget, tools are named without descriptions, then only counted, so the planner
    always learns which tools exist and never hears of one that is not loaded.
    """
    if not tools:
        return ""
    budget = budget_tokens * CHARS_PER_TOKEN
    by_server: dict[str, list[BaseTool]] = defaultdict(list)
    for tool in tools:
        by_server[server_of(tool)].append(tool)
    lines = ["Tools of the executor (server: tool - what it does):"]
    used = len(lines[0])
    bare: list[str] = []
    for server, items in by_server.items():
        for tool in items:
            line = f"- {server}: {tool.name} - {one_line(tool.description)}"
            if not bare and used + len(line) + 1 <= budget:
                lines.append(line)
                used += len(line) + 1
            else:
                bare.append(tool.name)
    if bare:
        named: list[str] = []
        for name in bare:
            if used + len(name) + 2 > budget:
                break
            named.append(name)
            used += len(name) + 2
        rest = len(bare) - len(named)
        lines.append(
            "- also: " + ", ".join(named) + (f" and {rest} more tools" if rest else "")
            if named
            else f"- and {rest} more tools"
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the planner and the executor's model see it (no server needed)."""

    name: str
    server: str
    description: str
    parameters: dict[str, Any]


def spec_of(tool: BaseTool) -> ToolSpec:
    """Return the spec of a loaded tool."""
    from langchain_core.utils.function_calling import convert_to_openai_tool

    params = convert_to_openai_tool(tool)["function"].get("parameters") or {}
    return ToolSpec(tool.name, server_of(tool), tool.description or tool.name, params)


def cache_key(context: Context, local: list[str]) -> str:
    """Return the key of the server configuration: what decides which tools the servers offer.

    The built-in servers' sources (size, mtime), which built-ins are on, the mcp.json's text, the
    interpreter and the plain tools' names (they decide the renames of clashing tools).
    """
    import memento_graph
    from memento_graph.mcp_servers import BUILTINS

    folder = Path(memento_graph.__file__).parent / "mcp_servers"
    sources = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.glob("*.py"))
    config = Path(context.mcp_config).expanduser() if context.mcp_config else None
    parts = {
        "version": [CACHE_VERSION, memento_graph.__version__, sys.executable],
        "sources": sources,
        "disable": context.disable_servers,
        "configured": [n for n, b in BUILTINS.items() if b.configured(os.environ)],
        "mcp_config": config.read_text(errors="replace") if config and config.is_file() else "",
        "local": local,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]


def cache_path(home: Path, key: str) -> Path:
    """Return the file of the cached catalogue for one server configuration."""
    return home / "cache" / f"tools-{key}.json"


def load_specs(home: Path, key: str) -> list[ToolSpec] | None:
    """Return the cached specs for `key`, or None when there are none (or they are unreadable)."""
    try:
        rows = json.loads(cache_path(home, key).read_text())
        return [ToolSpec(**row) for row in rows]
    except (OSError, ValueError, TypeError):
        return None


def save_specs(home: Path, key: str, specs: list[ToolSpec]) -> None:
    """Write the specs for `key` atomically (an unwritable cache is skipped silently)."""
    path = cache_path(home, key)
    text = json.dumps([asdict(s) for s in specs], ensure_ascii=False)
    try:
        if path.is_file() and path.read_text() == text:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.replace(path)
    except OSError:
        return
