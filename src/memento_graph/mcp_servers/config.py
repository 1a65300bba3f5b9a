"""Connections for the toolbox: the enabled built-ins plus the servers of a Claude Desktop mcp.json."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import memento_graph
from memento_graph.errors import MementoError
from memento_graph.mcp_servers import BUILTINS

TRANSPORTS = {
    "http": "streamable_http",
    "streamable-http": "streamable_http",
    "streamable_http": "streamable_http",
    "sse": "sse",
    "websocket": "websocket",
}


def disabled_builtins(spec: str) -> set[str]:
    """Parse `disable_servers` ('all' or comma-separated built-in names)."""
    names = {n.strip() for n in (spec or "").split(",") if n.strip()}
    if "all" in names:
        return set(BUILTINS)
    unknown = names - set(BUILTINS)
    if unknown:
        raise MementoError(
            f"unknown built-in server {sorted(unknown)[0]!r} in disable_servers "
            f"(known: {', '.join(BUILTINS)})"
        )
    return names


def load_mcp_json(path: str) -> dict[str, dict[str, Any]]:
    """Read the `mcpServers` of a Claude Desktop style mcp.json; bad files raise MementoError."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise MementoError(f"MCP config not found: {path}")
    try:
        data = json.loads(file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise MementoError(f"MCP config {path} is not valid JSON: {exc}") from None
    servers = data.get("mcpServers") if isinstance(data, dict) else None
    if not isinstance(servers, dict):
        raise MementoError(f'MCP config {path} has no "mcpServers" object')
    for name, entry in servers.items():
        if not isinstance(entry, dict) or not (entry.get("command") or entry.get("url")):
            raise MementoError(f'MCP server {name!r} in {path} needs a "command" or a "url"')
        if entry.get("transport") and entry["transport"] not in TRANSPORTS | {"stdio": 1}:
            raise MementoError(f"MCP server {name!r} has unknown transport {entry['transport']!r}")
    return servers


def third_party_connection(entry: dict[str, Any]) -> dict[str, Any]:
    """Turn one mcp.json entry into a langchain-mcp-adapters connection."""
    if entry.get("command"):
        conn = {
            "transport": "stdio",
            "command": entry["command"],
            "args": [str(a) for a in entry.get("args", [])],
        }
        if entry.get("env"):
            conn["env"] = {k: str(v) for k, v in entry["env"].items()}
        if entry.get("cwd"):
            conn["cwd"] = entry["cwd"]
        return conn
    conn = {"transport": TRANSPORTS[entry.get("transport", "http")], "url": entry["url"]}
    if entry.get("headers"):
        conn["headers"] = entry["headers"]
    return conn


def roots_file(workspace: Path) -> Path:
    """Return the file listing the extra paths the servers may read (next to the workspace)."""
    return workspace.parent / f"{workspace.name}.roots"


def builtin_env(workspace: Path, home: str) -> dict[str, str]:
    """Return the environment of a built-in server process (same venv, importable package)."""
    env = dict(os.environ)
    src = str(Path(memento_graph.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    roots = [p for p in env.get("MEMENTO_READ_ROOTS", "").split(os.pathsep) if p] + [os.getcwd()]
    env.update(
        MEMENTO_WORKSPACE=str(workspace),
        MEMENTO_HOME=home,
        MEMENTO_READ_ROOTS=os.pathsep.join(roots),
        MEMENTO_ROOTS_FILE=str(roots_file(workspace)),
        FASTMCP_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def builtin_connection(module: str, env: dict[str, str]) -> dict[str, Any]:
    """Return the stdio connection that runs a built-in server module with this interpreter."""
    return {
        "transport": "stdio",
        "command": sys.executable,
        "args": ["-m", f"memento_graph.mcp_servers.{module}"],
        "env": env,
    }


def plan_servers(
    disable: str, mcp_config: str, workspace: Path, home: str
) -> tuple[dict[str, dict[str, Any]], dict[str, str], list[str]]:
    """Return (connections to start, every server's status in order, notes on replaced built-ins)."""
    off = disabled_builtins(disable)
    extra = load_mcp_json(mcp_config) if mcp_config else {}
    env = builtin_env(workspace, home)
    connections: dict[str, dict[str, Any]] = {}
    statuses: dict[str, str] = {}
    notes: list[str] = []
    for name, builtin in BUILTINS.items():
        if name in extra:
            notes.append(f"server {name!r} from the MCP config replaces the built-in one")
        elif name in off:
            statuses[name] = "disabled"
        elif not builtin.configured(os.environ):
            statuses[name] = "not configured"
        else:
            connections[name] = builtin_connection(builtin.module, env)
            statuses[name] = "starting"
    for name, entry in extra.items():
        if entry.get("disabled"):
            statuses[name] = "disabled"
        else:
            connections[name] = third_party_connection(entry)
            statuses[name] = "starting"
    return connections, statuses, notes
