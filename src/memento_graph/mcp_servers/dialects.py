"""mcp.json dialects: Claude Desktop, Claude Code, Cursor and VS Code entries to adapter connections.

Accepted: the root `mcpServers` (Claude Desktop, Claude Code, Cursor) or `servers` (VS Code's
mcp.json; `mcp.servers` of its settings.json), comments and trailing commas (JSONC), `type` or
`transport`, and the variables these clients expand in string values: `${env:VAR}` (VS Code,
Cursor; unset is empty), `${VAR}` and `${VAR:-default}` (Claude Code; unset without default is an
error), `${userHome}`, `${workspaceFolder}`, `${workspaceFolderBasename}`, `${pathSeparator}`, `${/}`.
Unknown keys are warnings naming them; contradictory entries are one-line MementoErrors.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from memento_graph.errors import MementoError

TRANSPORTS = {
    "stdio": "stdio",
    "sse": "sse",
    "websocket": "websocket",
    "ws": "websocket",
} | dict.fromkeys(
    ("http", "streamable-http", "streamable_http", "streamableHttp"), "streamable_http"
)
STDIO_KEYS = {"command", "args", "env", "envFile", "cwd"}
REMOTE_KEYS = {"url", "headers"}
KNOWN_KEYS = STDIO_KEYS | REMOTE_KEYS | {"type", "transport", "disabled"}
# keys other clients define that mean nothing here: accepted without a warning
OTHER_CLIENTS = set(
    "alwaysAllow autoApprove description dev disabledTools gallery name oauth timeout trust version".split()
)
SYNONYMS = {"environment": "env", "arguments": "args", "cmd": "command", "endpoint": "url"}
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_COMMENT = r"//[^\n]*|/\*(?:[^*]|\*(?!/))*\*/"
_JSONC = re.compile(rf'("(?:\\.|[^"\\])*")|{_COMMENT}|,(?=(?:\s|{_COMMENT})*[}}\]])', re.S)


def parse_mcp_json(
    path: str, environ: Mapping[str, str] | None = None
) -> tuple[dict[str, dict[str, Any] | None], list[str]]:
    """Read an mcp.json: (name -> connection, None when disabled; warnings). Bad input raises."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise MementoError(f"MCP config not found: {path}")
    servers = _servers(_read_json(file, path), path)
    env = os.environ if environ is None else environ
    names = _predefined(file)
    connections: dict[str, dict[str, Any] | None] = {}
    warnings: list[str] = []
    for name, entry in servers.items():
        where = f"MCP server {name!r} in {path}"
        if not isinstance(entry, dict):
            raise MementoError(f"{where} is not an object")
        warnings += [_unknown(key, where) for key in entry if key not in KNOWN_KEYS | OTHER_CLIENTS]
        if not isinstance(entry.get("disabled", False), bool):
            raise MementoError(f'{where}: "disabled" must be true or false')
        if entry.get("disabled"):
            connections[name] = None
            continue
        expand = _Expander(env, names, where)
        known = {k: expand(v) for k, v in entry.items() if k in KNOWN_KEYS}
        connections[name] = _connection(known, where, Path(names["workspaceFolder"]))
    return connections, warnings


def _read_json(file: Path, path: str) -> Any:
    """Parse JSON, or JSONC (comments, trailing commas) as VS Code writes it."""
    try:
        text = file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise MementoError(f"MCP config {path} cannot be read: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        try:
            return json.loads(strip_jsonc(text))
        except json.JSONDecodeError:
            raise MementoError(f"MCP config {path} is not valid JSON: {exc}") from None


def strip_jsonc(text: str) -> str:
    """Remove // and /* */ comments and trailing commas outside strings."""
    return _JSONC.sub(lambda m: m.group(1) or "", text)


def _servers(data: Any, path: str) -> dict[str, Any]:
    """Find the servers object: `mcpServers`, `servers`, or `mcp.servers`."""
    if not isinstance(data, dict):
        raise MementoError(f'MCP config {path} has no "mcpServers" object')
    if isinstance(data.get("mcp"), dict) and "servers" in data["mcp"] and "servers" not in data:
        data = data["mcp"]
    roots = [key for key in ("mcpServers", "servers") if key in data]
    if len(roots) > 1:
        raise MementoError(f'MCP config {path} has both "mcpServers" and "servers": keep one')
    servers = data.get(roots[0]) if roots else None
    if not isinstance(servers, dict):
        raise MementoError(
            f'MCP config {path} has no "mcpServers" object (or "servers", as in VS Code)'
        )
    return servers


def _unknown(key: str, where: str) -> str:
    close = difflib.get_close_matches(key, sorted(KNOWN_KEYS | SYNONYMS.keys()), n=1, cutoff=0.6)
    hint = f" (did you mean {SYNONYMS.get(close[0], close[0])!r}?)" if close else ""
    return f"{where}: unknown key {key!r} ignored{hint}"


def _transport(entry: dict[str, Any], where: str) -> str | None:
    """Return the transport that `type` and `transport` ask for (None when neither is given)."""
    chosen: dict[str, str] = {}
    for key in ("type", "transport"):
        value = entry.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or value not in TRANSPORTS:
            known = "stdio, sse, http, streamable-http, websocket"
            raise MementoError(f"{where} has unknown {key} {value!r} (known: {known})")
        chosen[key] = value
    if len({TRANSPORTS[v] for v in chosen.values()}) > 1:
        raise MementoError(
            f"{where}: type {chosen['type']!r} disagrees with transport {chosen['transport']!r}"
        )
    return TRANSPORTS[next(iter(chosen.values()))] if chosen else None


def _connection(entry: dict[str, Any], where: str, base: Path) -> dict[str, Any]:
    """Map one expanded entry to a langchain-mcp-adapters connection dict."""
    transport = _transport(entry, where)
    command, url = entry.get("command"), entry.get("url")
    if command and url:
        raise MementoError(f'{where} has both a "command" and a "url": keep one')
    if not command and not url:
        raise MementoError(f'{where} needs a "command" or a "url"')
    if transport is None:
        transport = "stdio" if command else _guess_remote(str(url))
    if transport == "stdio":
        if not command:
            raise MementoError(f'{where}: transport stdio needs a "command", not a "url"')
        _only(entry, STDIO_KEYS, "a command (stdio) server", where)
        return _stdio(entry, where, base)
    if not url:
        raise MementoError(f'{where}: transport {transport} needs a "url", not a "command"')
    _only(entry, REMOTE_KEYS, f"a url ({transport}) server", where)
    conn: dict[str, Any] = {"transport": transport, "url": _string(url, "url", where)}
    if entry.get("headers"):
        if transport == "websocket":
            raise MementoError(f"{where}: headers are not supported over websocket")
        conn["headers"] = _strings(entry["headers"], "headers", where)
    return conn


def _guess_remote(url: str) -> str:
    """Guess a typeless url's transport: SSE when its path ends in /sse, else streamable HTTP."""
    parsed = urlparse(url)
    if parsed.scheme in {"ws", "wss"}:
        return "websocket"
    return "sse" if parsed.path.rstrip("/").endswith("/sse") else "streamable_http"


def _only(entry: dict[str, Any], allowed: set[str], kind: str, where: str) -> None:
    wrong = sorted(((STDIO_KEYS | REMOTE_KEYS) - allowed) & entry.keys())
    if wrong:
        raise MementoError(f"{where}: {wrong[0]!r} does not apply to {kind}")


def _stdio(entry: dict[str, Any], where: str, base: Path) -> dict[str, Any]:
    args = entry.get("args") or []
    if not isinstance(args, list) or any(isinstance(a, dict | list) for a in args):
        raise MementoError(f'{where}: "args" must be a list of strings')
    conn: dict[str, Any] = {
        "transport": "stdio",
        "command": _string(entry["command"], "command", where),
        "args": [str(a) for a in args],
    }
    env: dict[str, str] = {}
    if entry.get("envFile"):
        env.update(read_env_file(_path(base, entry["envFile"], "envFile", where), where))
    env.update(_strings(entry.get("env") or {}, "env", where))
    if env:
        conn["env"] = env
    if entry.get("cwd"):
        conn["cwd"] = str(_path(base, entry["cwd"], "cwd", where))
    return conn


def _path(base: Path, value: Any, key: str, where: str) -> Path:
    """Return a path of the entry, `~` expanded, relative to the workspace folder."""
    return base / Path(_string(value, key, where)).expanduser()


def _string(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise MementoError(f'{where}: "{key}" must be a non-empty string')
    return value


def _strings(value: Any, key: str, where: str) -> dict[str, str]:
    """Return a string map (numbers and booleans as text; null drops the entry)."""
    if not isinstance(value, dict) or any(isinstance(v, dict | list) for v in value.values()):
        raise MementoError(f'{where}: "{key}" must be an object of strings')
    return {str(k): _text(v) for k, v in value.items() if v is not None}


def _text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, bool) else str(value)


def read_env_file(file: Path, where: str) -> dict[str, str]:
    """Read a dotenv file (KEY=VALUE lines, `#` comments, optional `export` and quotes)."""
    try:
        lines = file.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise MementoError(f"{where}: envFile {file} cannot be read: {exc}") from None
    env: dict[str, str] = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.removeprefix("export ").split("=", 1)
        value = value.strip()
        if len(value) > 1 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def _predefined(file: Path) -> dict[str, str]:
    """VS Code's and Cursor's predefined variables; the workspace holds .vscode/ or the file."""
    folder = file.resolve().parent
    workspace = folder.parent if folder.name in {".vscode", ".cursor"} else folder
    return {
        "userHome": str(Path.home()),
        "workspaceFolder": str(workspace),
        "workspaceFolderBasename": workspace.name,
        "pathSeparator": os.sep,
        "/": os.sep,
    }


class _Expander:
    """Expand `${...}` in the strings of a JSON value, as the client of each syntax does."""

    def __init__(self, env: Mapping[str, str], names: dict[str, str], where: str) -> None:
        self.env, self.names, self.where = env, names, where

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return _VARIABLE.sub(self._one, value)
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        return value

    def _one(self, match: re.Match) -> str:
        inner = match.group(1)
        if inner in self.names:
            return self.names[inner]
        if inner.startswith("env:") and _NAME.fullmatch(inner[4:]):
            return self.env.get(inner[4:], "")
        name, sep, default = inner.partition(":-")
        if _NAME.fullmatch(name):
            if name in self.env:
                return self.env[name]
            if sep:
                return default
            raise MementoError(
                f"{self.where}: ${{{name}}} is not set (export it, or write ${{{name}:-default}})"
            )
        if inner.startswith("input:"):
            raise MementoError(
                f"{self.where}: ${{{inner}}} needs VS Code's prompt; use ${{env:VAR}} instead"
            )
        raise MementoError(f"{self.where}: unsupported variable ${{{inner}}}")
