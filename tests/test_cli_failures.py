"""Failures a script and a user can see: `run --json` on failure, `threads show`, live marks."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cli_run import memento
from roles import is_executor, is_first_plan, is_judge, is_planner, script_task
from scripted_llm import Reply, request_text

pytestmark = pytest.mark.integration  # processes: see conftest.py


def error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    assert "Traceback" not in proc.stderr, proc.stderr
    return [line for line in proc.stderr.splitlines() if line.startswith("error: ")]


def test_run_json_before_any_thread_prints_failed_with_a_null_thread(llm, home):
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    for proc in (memento("run", "What is 2+2?", "--json", env=env), memento("run", " ", "--json")):
        assert proc.returncode != 0
        failure = json.loads(proc.stdout)
        assert failure["status"] == "failed" and failure["thread_id"] is None
        assert len(error_lines(proc)) == 1 and failure["error"] in error_lines(proc)[0]
    assert "OPENAI_API_KEY" in json.loads(memento("resume", "t", "--json", env=env).stdout)["error"]
    unknown = json.loads(memento("resume", "no-such-thread", "--json").stdout)
    assert unknown["thread_id"] is None and "unknown thread" in unknown["error"]


def test_run_json_model_failure_prints_status_thread_and_error(llm, home):
    llm.rule(is_executor, Reply(status=500))  # matched before the script's executor rule
    script_task(llm, ["look it up"], "42")
    proc = memento("run", "What is six times seven?", "--json")
    assert proc.returncode == 1
    outcome = json.loads(proc.stdout)
    assert outcome["status"] == "failed" and outcome["error_kind"] == "status"
    assert outcome["thread_id"] and outcome["thread_id"] in error_lines(proc)[0]
    assert outcome["tokens"]["input"] > 0  # the planner's tokens, checkpointed
    assert outcome["thread_id"] in memento("threads").stdout


def test_run_json_crash_after_the_thread_exists_reports_its_id(llm, home):
    script_task(llm, ["look it up"], "42")
    code = (
        "import sys\n"
        "from memento_graph import agent as runner\n"
        "real = runner.Agent._drive\n"
        "async def crash(self, *args, **kw):\n"
        "    await real(self, *args, **kw)\n"
        "    raise KeyError('late')\n"
        "runner.Agent._drive = crash\n"
        "from memento_graph.cli import main\n"
        "sys.argv = ['memento', 'run', 'What is six times seven?', '--json']\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    failure = json.loads(proc.stdout)
    assert failure == {
        "status": "failed",
        "thread_id": failure["thread_id"],
        "error": "KeyError: 'late'",
        "error_kind": "crash",
    }
    assert failure["thread_id"] and failure["thread_id"] in memento("threads").stdout
    assert error_lines(proc) == ["error: KeyError: 'late' (MEMENTO_DEBUG=1 shows the traceback)"]


def test_threads_show_and_progress_tell_why_an_answer_is_a_best_effort(llm, home):
    """A subtask named a tool and called none; replanning was malformed twice; judge unusable."""
    plan = {"plan": [{"id": 1, "description": "add them", "tools": ["add"], "depends_on": []}]}
    llm.rule(lambda r: is_planner(r) and "Results of the subtasks" in request_text(r), "not json")
    llm.rule(is_first_plan, Reply(content=json.dumps(plan), usage=(300, 40)))
    llm.rule(is_executor, Reply(content="it is 5", usage=(50, 7)))
    llm.rule(is_judge, Reply(content=json.dumps({"rationale": "1.0", "verdict": "correct"})))
    llm.rule(lambda r: "Planning stopped" in request_text(r), Reply(content="5, best guess"))
    proc = memento("run", "What is 2+3?", "--thread-id", "t-best")
    assert proc.returncode == 0, proc.stderr
    assert "tools named: add, no tool called" in proc.stderr
    assert "reward unknown" in proc.stderr and "no case:" in proc.stderr

    shown = memento("threads", "show", "t-best", env={**os.environ, "COLUMNS": "200"})
    text = shown.stdout
    assert shown.returncode == 0, shown.stderr
    assert "note best effort: the planner's reply was malformed twice" in text
    assert "error the planner's reply was malformed twice" in text
    row = next(line for line in text.splitlines() if "1.1" in line and "it is 5" in line)
    assert "add" in row and "0 no tool called" in row
    assert "reward unknown" in text
    assert "no case written: planning failed" in text
    tokens = next(line for line in text.splitlines() if line.startswith("tokens"))
    assert tokens.startswith("tokens input ") and int(tokens.split()[2]) >= 350


def test_threads_show_of_a_finished_thread_gives_reward_case_and_tokens(llm, home):
    script_task(llm, ["Look up the two dates"], "Statue of Liberty")
    proc = memento("run", "Which is older?", "--thread-id", "t-ok", "--ground-truth", "x")
    assert proc.returncode == 0, proc.stderr
    text = memento("threads", "show", "t-ok", env={**os.environ, "COLUMNS": "200"}).stdout
    assert "reward 0.0 (ground_truth" in text and "tokens input" in text
    assert "no tool called" not in text and "note" not in text
