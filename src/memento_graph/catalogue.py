"""The tool catalogue the planner sees: loaded servers and tools, one line each, within a budget."""

from __future__ import annotations

from collections import defaultdict

from langchain_core.tools import BaseTool

CHARS_PER_TOKEN = 4


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
