"""mcp.json dialects to langchain-mcp-adapters connections: every client's format, warnings, errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from memento_graph.errors import MementoError
from memento_graph.mcp_servers.dialects import parse_mcp_json, strip_jsonc

ENV = {"TOKEN": "s3cret", "DATA": "/srv/data", "HOST": "mcp.example"}


def parse(tmp_path: Path, config: dict | str, name: str = "mcp.json", env: dict | None = None):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config if isinstance(config, str) else json.dumps(config))
    return parse_mcp_json(str(path), ENV if env is None else env)


def test_claude_desktop(tmp_path):
    config = {
        "mcpServers": {
            "files": {"command": "npx", "args": ["-y", "server-fs", 8], "env": {"DEBUG": 1}},
            "http": {"url": "http://127.0.0.1:8000/mcp", "transport": "streamable_http"},
            "events": {"url": "http://127.0.0.1:8000/events", "transport": "sse"},
            "off": {"command": "npx", "disabled": True},
        }
    }
    servers, warnings = parse(tmp_path, config)
    assert servers == {
        "files": {
            "transport": "stdio",
            "command": "npx",
            "args": ["-y", "server-fs", "8"],
            "env": {"DEBUG": "1"},
        },
        "http": {"transport": "streamable_http", "url": "http://127.0.0.1:8000/mcp"},
        "events": {"transport": "sse", "url": "http://127.0.0.1:8000/events"},
        "off": None,
    }
    assert warnings == []


def test_claude_code_types_and_variables(tmp_path):
    config = {
        "mcpServers": {
            "local": {
                "type": "stdio",
                "command": "${DATA}/bin/server",
                "args": ["--root", "${DATA:-/tmp}", "--mode", "${MODE:-fast}"],
                "env": {"API_KEY": "${TOKEN}", "PLAIN": "$TOKEN"},
            },
            "sse": {"type": "sse", "url": "https://${HOST}/events"},
            "http": {
                "type": "http",
                "url": "https://${HOST}/mcp",
                "headers": {"Authorization": "Bearer ${TOKEN}"},
            },
        }
    }
    servers, _ = parse(tmp_path, config, ".mcp.json")
    assert servers["local"] == {
        "transport": "stdio",
        "command": "/srv/data/bin/server",
        "args": ["--root", "/srv/data", "--mode", "fast"],
        "env": {"API_KEY": "s3cret", "PLAIN": "$TOKEN"},  # a bare $VAR is not expanded
    }
    assert servers["sse"] == {"transport": "sse", "url": "https://mcp.example/events"}
    assert servers["http"] == {
        "transport": "streamable_http",
        "url": "https://mcp.example/mcp",
        "headers": {"Authorization": "Bearer s3cret"},
    }


def test_cursor_variables(tmp_path):
    config = {
        "mcpServers": {
            "git": {
                "command": "uvx",
                "args": ["mcp-server-git", "--repository", "${workspaceFolder}"],
                "env": {"KEY": "${env:TOKEN}", "MISSING": "${env:NOT_SET}", "HOME": "${userHome}"},
            },
            "remote": {"url": "https://${env:HOST}/mcp", "headers": {"X-Key": "${env:TOKEN}"}},
        }
    }
    servers, _ = parse(tmp_path, config, "project/.cursor/mcp.json")
    assert servers["git"]["args"][-1] == str((tmp_path / "project").resolve())
    assert servers["git"]["env"] == {"KEY": "s3cret", "MISSING": "", "HOME": str(Path.home())}
    assert servers["remote"] == {
        "transport": "streamable_http",
        "url": "https://mcp.example/mcp",
        "headers": {"X-Key": "s3cret"},
    }


def test_vscode_servers_root_jsonc_env_file_and_cwd(tmp_path):
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / ".env").write_text(
        "# secrets\nexport API_KEY='from-file'\nLEVEL=debug\n\nnot a line\n"
    )
    text = """{
      // VS Code writes JSONC: comments and trailing commas
      "inputs": [{"type": "promptString", "id": "key", "description": "API key", "password": true}],
      "servers": {
        "memory": {
          "type": "stdio",
          "command": "npx",
          "args": ["-y", "@modelcontextprotocol/server-memory", "${workspaceFolder}${/}db"],
          "envFile": "${workspaceFolder}/.env",
          "env": {"LEVEL": "info", "URL": "http://x//not-a-comment"},  /* env wins over envFile */
          "cwd": "sub",
          "dev": {"watch": "src/**/*.ts"},
        },
        "github": {"type": "http", "url": "https://api.githubcopilot.com/mcp/",},
      },
    }"""
    servers, warnings = parse(tmp_path, text, "project/.vscode/mcp.json")
    workspace = (tmp_path / "project").resolve()
    assert servers["memory"] == {
        "transport": "stdio",
        "command": "npx",
        "args": ["-y", "@modelcontextprotocol/server-memory", f"{workspace}/db"],
        "env": {"API_KEY": "from-file", "LEVEL": "info", "URL": "http://x//not-a-comment"},
        "cwd": str(workspace / "sub"),
    }
    assert servers["github"] == {
        "transport": "streamable_http",
        "url": "https://api.githubcopilot.com/mcp/",
    }
    assert warnings == []  # `dev` and `inputs` belong to VS Code: no warning


def test_jsonc_comments_and_trailing_commas_only_outside_strings():
    text = (
        '{ // a "comment"\n "a": "x,}", "u": "http://h//p", /* b, ] */ "l": [1, 2, /* z */ ],\n'
        ' "e": "q\\"//", /* multi\n line, } */ }'
    )
    assert json.loads(strip_jsonc(text)) == {
        "a": "x,}",
        "u": "http://h//p",
        "l": [1, 2],
        "e": 'q"//',
    }


def test_vscode_settings_json_mcp_servers(tmp_path):
    config = {"editor.fontSize": 14, "mcp": {"servers": {"t": {"command": "mcp-server-time"}}}}
    servers, _ = parse(tmp_path, config, "settings.json")
    assert servers == {"t": {"transport": "stdio", "command": "mcp-server-time", "args": []}}


def test_url_without_type(tmp_path):
    config = {
        "mcpServers": {
            "a": {"url": "http://h/mcp"},
            "b": {"url": "http://h:8080/sse"},
            "c": {"url": "ws://h/ws"},
            "d": {"url": "http://h/sse/", "type": "http"},  # an explicit type wins
        }
    }
    servers, _ = parse(tmp_path, config)
    assert [servers[k]["transport"] for k in "abcd"] == [
        "streamable_http",
        "sse",
        "websocket",
        "streamable_http",
    ]


def test_unknown_keys_are_warnings_naming_them(tmp_path):
    config = {
        "mcpServers": {
            "typo": {"command": "srv", "argz": ["x"], "enviroment": {"A": "1"}, "colour": "red"},
            "cline": {"command": "srv", "autoApprove": ["t"], "timeout": 60},
        }
    }
    servers, warnings = parse(tmp_path, config)
    where = f"MCP server 'typo' in {tmp_path / 'mcp.json'}"
    assert warnings == [
        f"{where}: unknown key 'argz' ignored (did you mean 'args'?)",
        f"{where}: unknown key 'enviroment' ignored (did you mean 'env'?)",
        f"{where}: unknown key 'colour' ignored",
    ]
    assert servers["typo"] == {"transport": "stdio", "command": "srv", "args": []}


BAD = {
    "url and stdio": (
        {"x": {"url": "http://h/mcp", "transport": "stdio"}},
        'transport stdio needs a "command", not a "url"',
    ),
    "command and url": (
        {"x": {"command": "srv", "url": "http://h/mcp"}},
        'has both a "command" and a "url"',
    ),
    "type and transport": (
        {"x": {"url": "http://h/mcp", "type": "sse", "transport": "streamable_http"}},
        "type 'sse' disagrees with transport 'streamable_http'",
    ),
    "sse with command": ({"x": {"command": "srv", "type": "sse"}}, 'transport sse needs a "url"'),
    "unknown type": ({"x": {"url": "http://h", "type": "pigeon"}}, "unknown type 'pigeon'"),
    "unknown transport": (
        {"x": {"url": "http://h", "transport": "pigeon"}},
        "unknown transport 'pigeon'",
    ),
    "headers on stdio": (
        {"x": {"command": "srv", "headers": {"A": "b"}}},
        "'headers' does not apply to a command (stdio) server",
    ),
    "args on url": (
        {"x": {"url": "http://h/mcp", "args": ["a"]}},
        "'args' does not apply to a url (streamable_http) server",
    ),
    "headers on websocket": (
        {"x": {"url": "ws://h", "headers": {"A": "b"}}},
        "headers are not supported over websocket",
    ),
    "nothing to start": ({"x": {"args": []}}, 'needs a "command" or a "url"'),
    "not an object": ({"x": ["srv"]}, "is not an object"),
    "args not a list": ({"x": {"command": "srv", "args": "a b"}}, '"args" must be a list'),
    "env not strings": ({"x": {"command": "srv", "env": {"A": {}}}}, '"env" must be an object'),
    "command not a string": ({"x": {"command": ["srv"]}}, '"command" must be a non-empty'),
    "disabled not a bool": ({"x": {"command": "srv", "disabled": "yes"}}, '"disabled" must be'),
    "unset variable": ({"x": {"command": "${NOPE}"}}, "${NOPE} is not set"),
    "vscode input": ({"x": {"command": "s", "env": {"K": "${input:key}"}}}, "needs VS Code"),
    "other variable": ({"x": {"command": "${command:pick}"}}, "unsupported variable"),
    "missing envFile": ({"x": {"command": "s", "envFile": "none.env"}}, "cannot be read"),
}


@pytest.mark.parametrize("servers, message", BAD.values(), ids=BAD.keys())
def test_contradictory_or_bad_entries_are_one_line_errors(tmp_path, servers, message):
    with pytest.raises(MementoError, match=re.escape(message)) as error:
        parse(tmp_path, {"mcpServers": servers})
    assert "\n" not in str(error.value) and str(error.value).startswith("MCP server 'x' in ")


@pytest.mark.parametrize(
    "text, message",
    [
        ("not json", "is not valid JSON"),
        ("[1]", 'has no "mcpServers" object'),
        (json.dumps({"mcpServer": {}}), 'has no "mcpServers" object \\(or "servers"'),
        (json.dumps({"mcpServers": {}, "servers": {}}), 'has both "mcpServers" and "servers"'),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path, text, message):
    with pytest.raises(MementoError, match=message) as error:
        parse(tmp_path, text)
    assert "\n" not in str(error.value)


def test_the_readme_vscode_example_parses(tmp_path):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    example = re.search(r"```jsonc\n(.*?)```", readme, re.S).group(1)
    servers, warnings = parse(tmp_path, example, "p/.vscode/mcp.json", {"GITHUB_TOKEN": "t"})
    assert [c["transport"] for c in servers.values()] == ["stdio", "streamable_http", "sse"]
    assert servers["github"]["headers"] == {"Authorization": "Bearer t"} and warnings == []
