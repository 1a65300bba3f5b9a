"""The `memento` CLI as a user runs it: real subprocesses against the scripted model server."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from cli_run import memento
from roles import executing, is_first_plan, script_task
from scripted_llm import Reply
from waiting import wait_until

pytestmark = pytest.mark.integration  # processes: see conftest.py


def one_line_error(proc: subprocess.CompletedProcess, needle: str) -> None:
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], proc.stderr


def test_help_lists_commands_without_importing_langchain():
    code = (
        "import sys, runpy\n"
        "sys.argv = ['memento', '--help']\n"
        "try:\n    runpy.run_module('memento_graph.cli', run_name='__main__')\n"
        "except SystemExit:\n    pass\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in "
        "('langchain_core', 'langchain_openai', 'langgraph', 'chromadb', 'openai')]\n"
        "print('HEAVY', heavy)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "HEAVY []" in proc.stdout, proc.stdout[-2000:]
    for command in ("run", "resume", "threads"):
        assert command in proc.stdout
    commands = proc.stdout[proc.stdout.index("Commands") :].splitlines()[1:]
    listed = [line.split()[1] for line in commands if line.startswith("│ ") and line[2] != " "]
    assert listed[:2] == ["run", "resume"], listed  # the everyday commands first


def test_flags_show_no_bool_type():
    help_text = memento("run", "--help").stdout
    assert "--json" in help_text and "--approve-plan" in help_text
    assert "<bool>" not in help_text, help_text


def test_missing_api_key(home):
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    one_line_error(memento("run", "What is 2+2?", env=env), "OPENAI_API_KEY is not set")


def test_empty_task(llm, home):
    one_line_error(memento("run", "  "), "task is empty")


def test_unknown_thread(llm, home):
    one_line_error(memento("resume", "no-such-thread"), "unknown thread")
    one_line_error(memento("threads", "show", "no-such-thread"), "unknown thread")


def test_bad_setting_in_environment(llm, home):
    env = {**os.environ, "MEMENTO_TOP_K": "four"}
    one_line_error(
        memento("run", "What is 2+2?", env=env), "MEMENTO_TOP_K='four' is not a valid int"
    )
    env = {**os.environ, "MEMENTO_QUARANTINE_CONFIDENCE": "sure"}  # read by the memory module
    one_line_error(
        memento("cases", "stats", env=env), "MEMENTO_QUARANTINE_CONFIDENCE='sure' is not a valid"
    )


def test_unreachable_endpoint_fails_clearly_and_resumable(home, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1", "OPENAI_API_KEY": "k"}
    proc = memento("run", "What is 2+2?", "--thread-id", "t-unreach", env=env)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "cannot reach the model endpoint" in proc.stderr
    assert "memento resume t-unreach" in proc.stderr
    listing = memento("threads", env=env)
    assert "t-unreach" in listing.stdout and "failed" in listing.stdout


def test_run_json_threads_and_already_done(llm, home):
    script_task(llm, ["Look up the two dates"], "Statue of Liberty")
    proc = memento(
        "run",
        "Which is older, the Eiffel Tower or the Statue of Liberty?",
        "--ground-truth",
        "Statue of Liberty",
        "--thread-id",
        "t-done",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    outcome = json.loads(proc.stdout)
    assert outcome["answer"] == "Statue of Liberty" and outcome["reward"] == 1.0
    assert outcome["thread_id"] == "t-done" and outcome["status"] == "done"
    listing = memento("threads")
    assert "t-done" in listing.stdout and "done" in listing.stdout
    shown = memento("threads", "show", "t-done")
    assert "Look up the two dates" in shown.stdout and "Statue of Liberty" in shown.stdout
    one_line_error(memento("resume", "t-done"), "already done")
    one_line_error(memento("run", "again", "--thread-id", "t-done"), "exists already")


def test_live_progress_shows_nodes_plan_and_answer(llm, home):
    script_task(llm, ["Look up the two dates"], "Statue of Liberty")
    proc = memento("run", "Which is older?")
    assert proc.returncode == 0, proc.stderr
    for text in (
        "thread",
        "retrieve_cases",
        "plan, cycle 1",
        "Look up the two dates",
        "subtask 1.1",
        "done",
        "write_memory",
    ):
        assert text in proc.stderr
    assert "Statue of Liberty" in proc.stdout


def saved_results(thread_id: str) -> int:
    """Count the subtask results the checkpointer holds for a thread (its pending writes)."""
    path = Path(os.environ["MEMENTO_HOME"]) / "threads.sqlite"
    if not path.exists():
        return 0
    with sqlite3.connect(path, timeout=10) as db:
        try:
            query = "SELECT count(*) FROM writes WHERE thread_id = ? AND channel = 'results'"
            return db.execute(query, [thread_id]).fetchone()[0]
        except sqlite3.OperationalError:  # tables not created yet
            return 0


def test_sigkill_mid_run_then_resume_redoes_no_finished_subtask(llm, home):
    llm.rule(
        is_first_plan,
        Reply(
            content=json.dumps(
                {
                    "plan": [
                        {"id": 1, "description": "fast lookup", "depends_on": []},
                        {"id": 2, "description": "slow lookup", "depends_on": []},
                    ]
                }
            )
        ),
    )
    llm.rule(executing("slow lookup"), Reply(content="slow result", latency=60), times=1)
    script_task(llm, [], "both found", result="quick result")
    proc = subprocess.Popen(
        [sys.executable, "-m", "memento_graph.cli", "run", "Two lookups", "--thread-id", "t-kill"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )

    def fast_saved_slow_in_flight() -> bool:
        slow = [a for a in llm.arrivals if executing("slow lookup")(a["body"])]
        return bool(slow and llm.requests(executing("fast lookup")) and saved_results("t-kill"))

    wait_until(fast_saved_slow_in_flight, what="the fast subtask's checkpointed result")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert "interrupted" in memento("threads").stdout

    resumed = memento("resume", "t-kill")
    assert resumed.returncode == 0, resumed.stderr
    assert "both found" in resumed.stdout
    assert len(llm.requests(executing("fast lookup"))) == 1  # finished subtask not redone
    assert len(llm.requests(is_first_plan)) == 1  # the plan was not redone either
    assert len([a for a in llm.arrivals if executing("slow lookup")(a["body"])]) == 2
