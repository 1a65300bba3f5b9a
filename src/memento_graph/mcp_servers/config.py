"""Connections for the toolbox: the enabled built-ins plus the servers of an mcp.json (any dialect)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import memento_graph
from memento_graph.errors import MementoError
from memento_graph.mcp_servers import BUILTINS, server_log
from memento_graph.mcp_servers.dialects import parse_mcp_json


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
    """Return (connections to start, every server's status in order, notes for the user)."""
    off = disabled_builtins(disable)
    extra, notes = parse_mcp_json(mcp_config) if mcp_config else ({}, [])
    env = builtin_env(workspace, home)
    connections: dict[str, dict[str, Any]] = {}
    statuses: dict[str, str] = {}
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
    for name, connection in extra.items():
        if connection is None:
            statuses[name] = "disabled"
        else:
            connections[name] = connection
            statuses[name] = "starting"
    logs = {name: server_log.log_path(Path(home), name) for name in connections}
    return {n: server_log.wrap(c, logs[n]) for n, c in connections.items()}, statuses, notes
