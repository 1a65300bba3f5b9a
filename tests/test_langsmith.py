"""LangSmith tracing: runs, metadata and the reward feedback received by a local endpoint."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from cli_run import memento as run_memento
from langsmith_sink import PROJECT_ID, FakeLangSmith
from roles import script_task

pytestmark = pytest.mark.integration  # processes: see conftest.py

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def langsmith():
    fake = FakeLangSmith()
    yield fake
    fake.server.shutdown()


def memento(*args: str, env: dict) -> subprocess.CompletedProcess:
    return run_memento(*args, env={**env, "PYTHONPATH": str(ROOT / "src")})


def traced_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANGSMITH_", "LANGCHAIN_"))}
    return {**env, "LANGSMITH_TRACING": "true", "LANGSMITH_PROJECT": "memento-test", **extra}


def test_runs_metadata_and_reward_feedback_reach_langsmith(llm, home, langsmith):
    script_task(llm, ["look it up"], "Paris")
    env = traced_env(LANGSMITH_API_KEY="test", LANGSMITH_ENDPOINT=langsmith.url)
    first = memento("run", "Capital of France?", "--ground-truth", "Paris", "--json", env=env)
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr and "warning" not in first.stderr
    case_id = json.loads(first.stdout)["case_id"]
    langsmith.requests.clear()
    second = memento("run", "Capital of France?", "--ground-truth", "Lyon", "--json", env=env)
    outcome = json.loads(second.stdout)
    assert outcome["cases_used"] == [case_id] and outcome["reward"] == 0.0

    runs = langsmith.runs()
    roots = [r for r in runs.values() if not r.get("parent_run_id")]
    assert [r["name"] for r in roots] == ["memento run"]
    root = roots[0]
    meta = root["extra"]["metadata"]
    assert meta["thread_id"] == outcome["thread_id"] and meta["policy"] == "similarity"
    assert meta["case_ids"] == [case_id] and meta["reward"] == 0.0
    assert {"memento", "policy:similarity"} <= set(root["tags"])
    names = {r["name"] for r in runs.values()}
    assert {"retrieve_cases", "plan", "execute_with_tools", "write_memory"} <= names
    assert {"planner (gpt-4o-mini)", "executor (gpt-4o-mini)"} <= names
    retrieve = next(r for r in runs.values() if r["name"] == "retrieve_cases")
    assert retrieve["extra"]["metadata"]["case_ids"] == [case_id]
    assert all(r["extra"]["metadata"]["thread_id"] == outcome["thread_id"] for r in runs.values())

    [feedback] = langsmith.feedback()
    assert feedback["key"] == "reward" and feedback["score"] == 0.0
    assert feedback["run_id"] == root["id"] and feedback["session_id"] == PROJECT_ID


def test_user_feedback_replaces_the_judges_reward_in_langsmith(llm, home, langsmith):
    script_task(llm, ["look it up"], "Paris")
    env = traced_env(LANGSMITH_API_KEY="test", LANGSMITH_ENDPOINT=langsmith.url)
    run = memento("run", "Capital of France?", "--json", env=env)
    assert run.returncode == 0, run.stderr
    outcome = json.loads(run.stdout)
    [root] = langsmith.roots()
    [judged] = langsmith.feedback()
    assert judged["run_id"] == root["id"] and judged["score"] == 1.0
    assert judged["comment"] == "the answer names the right fact"  # the judge's rationale

    told = memento(
        "feedback", outcome["thread_id"], "--reward", "0", "--note", "wrong city", env=env
    )
    assert told.returncode == 0 and "warning" not in told.stderr, told.stderr
    stored = langsmith.stored[judged["id"]]
    assert stored["score"] == 0 and stored["comment"] == "user: wrong city"
    assert len(langsmith.feedback()) == 1  # one reward on the run: the user's

    # A run the judge gave no reward: the user's feedback is created on it.
    langsmith.stored.clear()
    again = memento("feedback", outcome["thread_id"], "--reward", "1", env=env)
    assert again.returncode == 0, again.stderr
    [created] = langsmith.feedback()[1:]
    assert created["run_id"] == root["id"] and created["score"] == 1
    assert created["id"] == judged["id"] and created["comment"] == "user feedback"


def test_every_distinct_langsmith_warning_prints_once(llm, home, langsmith):
    script_task(llm, ["look it up"], "42")
    langsmith.fail("/runs/batch", 401, *[500] * 50)  # the key refused, then the server failing
    langsmith.fail("/feedback", 500, 500)
    env = traced_env(
        LANGSMITH_API_KEY="test",
        LANGSMITH_ENDPOINT=langsmith.url,
        MEMENTO_TRACE_FLUSH_TIMEOUT="10",  # time for the SDK's retries of a 500
    )
    proc = memento("run", "What is 6*7?", "--json", env=env)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "LangSmith" in line]
    assert len(warnings) == len(set(warnings)) >= 2, proc.stderr
    assert any("401" in w or "Authentication" in w for w in warnings), proc.stderr
    assert any("500" in w for w in warnings), proc.stderr


def test_tracing_without_a_key_sends_and_prints_nothing(llm, home, langsmith):
    script_task(llm, ["look it up"], "42")
    proc = memento("run", "What is 6*7?", env=traced_env(LANGSMITH_ENDPOINT=langsmith.url))
    assert proc.returncode == 0, proc.stderr
    assert langsmith.requests == []
    assert "LangSmith" not in proc.stderr and "warning" not in proc.stderr.lower()


def test_unreachable_endpoint_never_breaks_a_run(llm, home):
    from memento_graph.commands.studio import free_port

    script_task(llm, ["look it up"], "42")
    env = traced_env(
        LANGSMITH_API_KEY="test",
        LANGSMITH_ENDPOINT=f"http://127.0.0.1:{free_port()}",
        MEMENTO_TRACE_FLUSH_TIMEOUT="5",  # a refused connection is quick; room for a loaded machine
    )
    proc = memento("run", "What is 6*7?", "--ground-truth", "42", "--json", env=env)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert json.loads(proc.stdout)["status"] == "done"
    warnings = [line for line in proc.stderr.splitlines() if "LangSmith" in line]
    assert len(warnings) == len(set(warnings))  # each distinct warning once
    assert len([w for w in warnings if "Connection" in w]) == 1  # one unreachable endpoint


def test_a_bad_flush_timeout_falls_back_and_never_fails_the_run(monkeypatch):
    from memento_graph.tracing import flush_timeout

    monkeypatch.setenv("MEMENTO_TRACE_FLUSH_TIMEOUT", "soon")  # read after the run: lenient
    assert flush_timeout() == 5.0
    monkeypatch.setenv("MEMENTO_TRACE_FLUSH_TIMEOUT", "2.5")
    assert flush_timeout() == 2.5


def test_each_kind_of_langsmith_failure_warns_once_whatever_came_first(monkeypatch, capsys):
    import logging

    from memento_graph import langsmith_client

    monkeypatch.setattr(langsmith_client._OneLine, "said", set())
    handler = langsmith_client._OneLine(logging.WARNING)
    url = "http://127.0.0.1:9/runs/batch"
    failures = [
        f"Failed to batch ingest runs: LangSmithAPIError: Server error (500) caused failure to "
        f"POST {url} in LangSmith API. HTTPError('500 Server Error: Internal Server Error')",
        f"Failed to batch ingest runs: LangSmithAuthError: Authentication failed for {url}. "
        "HTTPError('401 Client Error: Unauthorized for url')",
        "Failed to POST /runs/batch in LangSmith API. HTTPError('403 Client Error: Forbidden')",
        "Failed to POST /runs/batch in LangSmith API. HTTPError('503 Server Error: Unavailable')",
        "Failed to batch ingest runs: LangSmithConnectionError: Connection error caused failure "
        "to POST https://api.smith.langchain.com/runs/batch. ConnectionError(MaxRetryError("
        "\"HTTPSConnectionPool(host='api.smith.langchain.com', port=443): Max retries exceeded"
        " (Caused by NewConnectionError('Failed to establish a new connection'))\"))",
        "could not send the reward: HTTPSConnectionPool(host='x', port=443): Read timed out. "
        "(read timeout=10) ReadTimeout",
    ]
    for message in failures:
        record = logging.LogRecord("langsmith.client", logging.WARNING, "", 0, message, (), None)
        handler.emit(record)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3, lines  # server (500, 503), auth (401, 403), unreachable
    assert "500" in lines[0] and "401" in lines[1] and "Connection error" in lines[2]
    try:
        raise ConnectionError("connection refused")
    except ConnectionError:
        import sys

        error = logging.LogRecord(
            "langsmith.client", logging.ERROR, "", 0, "Error creating feedback", (), sys.exc_info()
        )
    monkeypatch.setattr(langsmith_client._OneLine, "said", set())
    handler.emit(error)
    assert capsys.readouterr().err == (
        "warning: LangSmith tracing: Error creating feedback: ConnectionError: connection refused\n"
    )
