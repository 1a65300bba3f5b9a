"""`memento tools` (list servers, status, tools) and `memento tools call`, on the typer sub-app."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from fixtures.mcp_support import write_mcp_json
from memento_graph.commands.tools import app
from memento_graph.errors import MementoError

pytestmark = pytest.mark.integration  # processes: see conftest.py

runner = CliRunner()
ONLY_MATH = "search,crawl,documents,code,spreadsheet,media"


def invoke(tmp_path, monkeypatch, *args):
    monkeypatch.setenv("MEMENTO_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MEMENTO_DISABLE_SERVERS", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    return runner.invoke(app, list(args))


def test_list_servers_status_and_tools(tmp_path, monkeypatch):
    config = write_mcp_json(tmp_path / "mcp.json")
    result = invoke(tmp_path, monkeypatch, "--mcp-config", str(config), "--disable", ONLY_MATH)
    assert result.exit_code == 0, result.output
    lines = {
        line.split("│")[1].strip(): line
        for line in result.output.splitlines()
        if line.count("│") >= 3
    }
    assert "ready" in lines["math"] and "evaluate, simplify, solve" in lines["math"]
    assert "disabled" in lines["crawl"] and "ready" in lines["fixture"]
    assert "lookup_word" in lines["fixture"] and "fixture_evaluate" in lines["fixture"]
    assert "renamed to 'fixture_evaluate'" in result.output
    assert "background_job" not in lines["fixture"]  # needs task-augmented calls: named apart
    assert "note: tool 'background_job' of server 'fixture' is not offered" in result.output


def test_call_a_tool(tmp_path, monkeypatch):
    result = invoke(
        tmp_path,
        monkeypatch,
        "call",
        "math",
        "integrate",
        "--disable",
        ONLY_MATH,
        "--args",
        '{"expression": "x^2", "lower": "0", "upper": "3"}',
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "9"
    failing = invoke(
        tmp_path,
        monkeypatch,
        "call",
        "math",
        "evaluate",
        "--disable",
        ONLY_MATH,
        "--args",
        '{"expression": "open(1)"}',
    )
    assert failing.exit_code == 1 and failing.output.startswith("Error: unknown function: open")


def test_call_errors_are_memento_errors(tmp_path, monkeypatch):
    cases = {
        ("call", "math", "evaluate", "--args", "{nope"): "--args is not valid JSON",
        ("call", "math", "evaluate", "--args", "[1]"): "--args must be a JSON object",
        ("call", "nosuch", "x", "--disable", ONLY_MATH): "unknown server 'nosuch'",
        ("call", "math", "nosuch", "--disable", ONLY_MATH): "server 'math' has no tool 'nosuch'",
        (
            "call",
            "crawl",
            "crawl_page",
            "--disable",
            ONLY_MATH,
        ): "server 'crawl' is not available: disabled",
        (
            "--mcp-config",
            str(tmp_path / "missing.json"),
            "call",
            "math",
            "x",
        ): "MCP config not found",
    }
    for args, message in cases.items():
        result = invoke(tmp_path, monkeypatch, *args)
        assert isinstance(result.exception, MementoError), (args, result.output)
        assert message in str(result.exception) and "\n" not in str(result.exception)


def test_not_configured_names_the_variable_to_set(tmp_path, monkeypatch):
    for var in ("SEARXNG_URL", "MEMENTO_VISION_MODEL", "MEMENTO_TRANSCRIBE_MODEL"):
        monkeypatch.delenv(var, raising=False)
    result = invoke(tmp_path, monkeypatch, "--disable", "crawl,documents,code,spreadsheet,math")
    assert result.exit_code == 0, result.output
    rows = {
        line.split("│")[1].strip(): line.split("│")[2].strip()
        for line in result.output.splitlines()
        if line.count("│") >= 3
    }
    assert rows["search"] == "not configured: set SEARXNG_URL"
    assert rows["media"] == "not configured: set MEMENTO_VISION_MODEL or MEMENTO_TRANSCRIBE_MODEL"
    assert rows["math"] == "disabled"
    called = invoke(
        tmp_path,
        monkeypatch,
        "call",
        "search",
        "web_search",
        "--disable",
        "crawl,documents,code,spreadsheet,math",
    )
    assert str(called.exception) == (
        "server 'search' is not available: not configured: set SEARXNG_URL"
    )
