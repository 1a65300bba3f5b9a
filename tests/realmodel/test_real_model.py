"""The agent through the real CLI against a real small model (SmolLM2-135M on llama.cpp's server).

Robustness, not accuracy: every run ends with exit 0 and an answer, or exit 1 with exactly one
`error:` line; never a traceback; tokens and tool calls stay within the budgets; across the
tool tasks at least one real tool call is made.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from budgets import BUDGETS

from cli_run import memento

# `--dist loadfile` runs this file in one xdist worker: one server, one tool-call tally.
# (xdist 3.8 under pytest 9 ignores `xdist_group` marks, so `loadgroup` cannot do it.)
pytestmark = pytest.mark.realmodel
B = BUDGETS
# Output tokens one run may spend: planner (reply + repair), executors (forced call, tool
# rounds, final), best-effort answer, judge (each sample: reply + repair), lesson (reply + repair).
MAX_OUTPUT = (
    2 * B["MEMENTO_PLANNER_MAX_TOKENS"] * B["MEMENTO_MAX_CYCLES"]
    + B["MEMENTO_MAX_SUBTASKS"]
    * (B["MEMENTO_MAX_TOOL_CALLS"] + 2)
    * B["MEMENTO_EXECUTOR_MAX_TOKENS"]
    + B["MEMENTO_SYNTHESIZER_MAX_TOKENS"]
    + 2 * B["MEMENTO_JUDGE_SAMPLES"] * B["MEMENTO_JUDGE_MAX_TOKENS"]
    + 2 * B["MEMENTO_LESSON_MAX_TOKENS"]
)
tool_calls_seen: list[int] = []


def check_robust(result: subprocess.CompletedProcess) -> dict | None:
    """Assert the run ended cleanly; return the JSON outcome when stdout holds one."""
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    if result.returncode == 0:
        assert not errors
    else:
        assert result.returncode == 1 and len(errors) == 1, result.stderr[-2000:]
    try:
        return json.loads(result.stdout)
    except ValueError:
        return None


def check_bounds(outcome: dict) -> None:
    """Assert the outcome's tokens and tool calls are within the tier's budgets."""
    assert 0 < outcome["tokens"]["output"] <= MAX_OUTPUT
    assert outcome["subtasks"] <= B["MEMENTO_MAX_SUBTASKS"] * B["MEMENTO_MAX_CYCLES"]
    assert outcome["tool_calls"] <= outcome["subtasks"] * B["MEMENTO_MAX_TOOL_CALLS"]


def run_json(env: dict, *args: str) -> dict:
    result = memento("run", *args, "--json", env=env, timeout=300)
    outcome = check_robust(result)
    assert outcome is not None and outcome["thread_id"], result.stdout[-2000:]
    if result.returncode == 0:
        assert outcome["status"] == "done" and outcome["answer"]
        check_bounds(outcome)
    tool_calls_seen.append(outcome.get("tool_calls") or 0)
    return outcome


def test_math_task(real_env):
    env = {**real_env, "MEMENTO_DISABLE_SERVERS": "search,crawl,media,documents,spreadsheet,code"}
    outcome = run_json(env, "Use the evaluate tool: what is 17 * 23?", "--ground-truth", "391")
    assert outcome["reward"] in (0.0, 1.0)


def test_code_task(real_env):
    env = {**real_env, "MEMENTO_DISABLE_SERVERS": "search,crawl,media,documents,spreadsheet,math"}
    run_json(env, "Run Python code with run_python to print 2 ** 20.", "--ground-truth", "1048576")


def test_csv_file_task(real_env, tmp_path: Path):
    data = tmp_path / "sales.csv"
    data.write_text("region,amount\nnorth,120\nsouth,80\neast,50\n")
    env = {**real_env, "MEMENTO_DISABLE_SERVERS": "search,crawl,media,code,math"}
    run_json(env, "What is the total of the amount column?", "--file", str(data))


def test_plain_output_and_no_case_from_a_failed_episode(real_env):
    result = memento("run", "Name the capital of France.", env=real_env, timeout=300)
    check_robust(result)
    assert "thread" in result.stderr
    shown = memento("cases", "list", "--json", env=real_env, timeout=60)
    cases = json.loads(shown.stdout or "[]")
    for case in cases:  # a case is only written from an executed plan with a known reward
        assert json.loads(case["plan"])["plan"] and case["reward"] is not None


def test_tool_tasks_made_a_real_tool_call():
    assert len(tool_calls_seen) >= 3, "run after the tool tasks (file order)"
    assert sum(tool_calls_seen) >= 1


def test_kill_and_resume(real_env):
    env = {**real_env, "MEMENTO_DISABLE_SERVERS": "search,crawl,media,documents,spreadsheet,code"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "memento_graph.cli", "run", "What is 12 squared?", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    db = Path(env["MEMENTO_HOME"]) / "threads.sqlite"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists() and _checkpoints(db) >= 2:  # past retrieve_cases: killed mid-run
            break
        time.sleep(0.05)
    finished_first = proc.poll() is not None
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    rows = memento("threads", env=env, timeout=60).stdout
    thread_id = next(w for w in rows.split() if w.count("-") == 4)
    resumed = memento("resume", thread_id, "--json", env=env, timeout=300)
    outcome = check_robust(resumed)
    if finished_first:  # the run beat the kill: resume says it is done already
        assert resumed.returncode == 1 and "already done" in resumed.stderr
    else:
        assert outcome is not None and outcome["thread_id"] == thread_id
        if resumed.returncode == 0:
            assert outcome["status"] == "done" and outcome["answer"]


def _checkpoints(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=0.2) as conn:
            return conn.execute("select count(*) from checkpoints").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_eval_with_control(real_env, tmp_path: Path):
    data = tmp_path / "qa.jsonl"
    items = [("What is 2 + 2?", "4"), ("What colour is the sky?", "blue"), ("2 * 5?", "10")]
    items.append(("Capital of Italy?", "Rome"))
    data.write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in items))
    out = tmp_path / "eval"
    result = memento("eval", str(data), "--control", "--out", str(out), env=real_env, timeout=600)
    check_robust(result)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(lines) == 8  # 4 items x (memory, control)
    summary = json.loads((out / "summary.json").read_text())
    assert summary and "failed" in json.dumps(summary)


@pytest.fixture(autouse=True)
def _quiet_tracing(monkeypatch):
    monkeypatch.setenv("LANGSMITH_TRACING", "false")
