"""mcp.json dialects end to end: remote types honoured, unknown keys warned, exiting servers reported."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.mcp_support import FIXTURE_SERVER, context_for
from memento_graph.commands.studio import free_port
from memento_graph.toolbox import open_toolbox
from waiting import wait_until

pytestmark = pytest.mark.integration  # processes: see conftest.py

REMOTE = Path(__file__).parent / "fixtures" / "remote_server.py"
DIES = "import sys; print('loading model', file=sys.stderr); print('no model at /m', file=sys.stderr); sys.exit(3)"


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture
def remote():
    """Start the fixture server over a transport, at a path no client would guess; yield its URL."""
    procs = []

    def start(transport: str, path: str) -> str:
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, str(REMOTE), transport, str(port), path],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(proc)
        wait_until(lambda: proc.poll() is None and listening(port), 30, f"{transport} server")
        return f"http://127.0.0.1:{port}{path}"

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(10)


async def test_vscode_config_with_sse_and_http_types(tmp_path, remote, monkeypatch):
    monkeypatch.setenv("FIXTURE_TEST_WORD", "gannet")
    config = tmp_path / "project" / ".vscode" / "mcp.json"
    config.parent.mkdir(parents=True)
    servers = {
        "events": {"type": "sse", "url": remote("sse", "/events")},
        "stream": {"type": "http", "url": remote("streamable-http", "/rpc")},
        "local": {
            "type": "stdio",
            "command": sys.executable,
            "args": [str(FIXTURE_SERVER)],
            "env": {"FIXTURE_WORD": "${env:FIXTURE_TEST_WORD}"},
        },
    }
    config.write_text("// VS Code\n" + json.dumps({"inputs": [], "servers": servers}))
    async with open_toolbox(context_for(tmp_path, mcp_config=str(config))) as box:
        assert {n: box.servers[n] for n in servers} == dict.fromkeys(servers, "ready")
        for name in ("events", "stream"):
            answer = await box.find(name, "lookup_word").ainvoke({"key": "k"})
            assert answer == "the secret word for k is pelican"
        local = await box.find("local", "lookup_word").ainvoke({"key": "k"})
        assert local == "the secret word for k is gannet"


async def test_unknown_keys_are_warned_once_and_the_server_still_runs(tmp_path, caplog):
    config = tmp_path / "mcp.json"
    entry = {"command": sys.executable, "argz": [str(FIXTURE_SERVER)], "enviroment": {"A": "1"}}
    entry["args"] = [str(FIXTURE_SERVER)]
    config.write_text(json.dumps({"mcpServers": {"typo": entry}}))
    with caplog.at_level(logging.WARNING, logger="memento_graph.toolbox"):
        async with open_toolbox(context_for(tmp_path, mcp_config=str(config))) as box:
            assert box.servers["typo"] == "ready"
    where = f"MCP server 'typo' in {config}"
    expected = [
        f"{where}: unknown key 'argz' ignored (did you mean 'args'?)",
        f"{where}: unknown key 'enviroment' ignored (did you mean 'env'?)",
    ]
    assert box.clashes == expected
    assert [r.getMessage() for r in caplog.records if "unknown key" in r.getMessage()] == expected


async def test_a_server_that_exits_at_once_is_reported_with_code_and_stderr(
    tmp_path, caplog, capfd
):
    config = tmp_path / "mcp.json"
    config.write_text(
        json.dumps({"mcpServers": {"dies": {"command": sys.executable, "args": ["-c", DIES]}}})
    )
    with caplog.at_level(logging.WARNING, logger="memento_graph.toolbox"):
        async with open_toolbox(context_for(tmp_path, "math", mcp_config=str(config))) as box:
            assert box.servers["math"] == "ready"
            assert box.servers["dies"] == (
                "failed: exited with code 3: loading model | no model at /m"
            )
    log = tmp_path / "logs" / "mcp" / "dies.log"
    [warning] = [r.getMessage() for r in caplog.records if "dies" in r.getMessage()]
    assert warning == (
        "MCP server dies failed to start: exited with code 3: loading model | no model at /m "
        f"(full log: {log})"
    )
    assert "no model at /m" in log.read_text()
    assert "no model at /m" not in capfd.readouterr().err  # not on the terminal, unattributed


async def test_a_second_run_reports_only_its_own_stderr(tmp_path):
    config = tmp_path / "mcp.json"
    for word in ("first", "second"):
        code = f"import sys; print('{word} run', file=sys.stderr); sys.exit(2)"
        config.write_text(
            json.dumps({"mcpServers": {"dies": {"command": sys.executable, "args": ["-c", code]}}})
        )
        async with open_toolbox(context_for(tmp_path, mcp_config=str(config))) as box:
            assert box.servers["dies"] == f"failed: exited with code 2: {word} run"
