"""Live progress of `memento run`: a line on screen at once, subtasks and tool calls as they start."""

from __future__ import annotations

import io
import os
import pty
import re
import selectors
import subprocess
import sys
import threading
import time

import pytest

from fixtures.mcp_support import write_mcp_json
from memento_graph import startup
from roles import is_executor, is_first_plan, script_task, tool_plan_reply
from scripted_llm import Reply, after_tool

CLI = [sys.executable, "-m", "memento_graph.cli"]
_STYLE = re.compile(r"\x1b\[[0-9;]*m")


def on_a_terminal(*args: str, timeout: float = 120) -> tuple[list[tuple[float, bytes]], int]:
    """Run `memento ARGS` with a terminal as stdout and stderr; return its output, timed, and code.

    Times are seconds from just before the process was started.
    """
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "dumb", "COLUMNS": "200"}
    started = time.monotonic()
    proc = subprocess.Popen(
        [*CLI, *args], stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env
    )
    os.close(slave)
    chunks: list[tuple[float, bytes]] = []
    ready = selectors.DefaultSelector()  # epoll: select() fails on a descriptor past 1023
    ready.register(master, selectors.EVENT_READ)
    try:
        while time.monotonic() - started < timeout:
            if not ready.select(0.2):
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # the terminal closed: the process ended
                break
            if not data:
                break
            chunks.append((time.monotonic() - started, data))
    finally:
        ready.close()
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return chunks, proc.wait(10)


def screen(chunks: list[tuple[float, bytes]]) -> list[str]:
    """Return the lines left on the terminal: a carriage return or an erase rewrites a line."""
    text = _STYLE.sub("", b"".join(c for _, c in chunks).decode()).replace("\r\n", "\n")
    lines = []
    for line in text.split("\n"):
        line = line.replace("\x1b[2K", "")
        lines.append(line.rsplit("\r", 1)[-1])
    return [line for line in lines if line.strip()]


@pytest.mark.integration
def test_a_terminal_shows_a_line_within_half_a_second_then_the_run(llm, home):
    script_task(llm, ["Look up the two dates"], "Statue of Liberty")
    chunks, code = on_a_terminal("run", "Which is older?")
    assert code == 0, chunks
    first_at, first = chunks[0]
    assert first.decode().startswith(startup.STARTING), chunks[:3]
    # Seconds from the start to the line: the best of this run and two more starts (a loaded
    # machine only adds to it; the interpreter's own start, ~0.05 s idle, is part of it).
    firsts = [first_at] + [on_a_terminal("run", "  ")[0][0][0] for _ in range(2)]
    assert min(firsts) < 0.5, f"the first line came after {firsts} s"
    lines = screen(chunks)
    assert not any(startup.STARTING in line for line in lines), lines  # erased by the run
    assert lines[0].startswith("thread "), lines
    assert any("▸ subtask 1.1 started: Look up the two dates" in line for line in lines), lines


@pytest.mark.integration
def test_a_bad_input_on_a_terminal_leaves_one_line(llm, home):
    chunks, code = on_a_terminal("run", "  ")
    assert code != 0
    assert screen(chunks) == [
        "error: the task is empty: give the question or instruction to work on"
    ], chunks


@pytest.mark.integration
def test_subtask_and_tool_call_show_before_the_tool_returns(llm, home, tmp_path):
    config = write_mcp_json(tmp_path / "mcp.json")
    llm.rule(is_first_plan, tool_plan_reply(("Wait for the slow tool", ["slow"])), name="plan")
    llm.rule(
        lambda req: is_executor(req) and not after_tool(req),
        Reply(tool_calls=[("slow", {"seconds": 2})]),
        times=1,
    )
    script_task(llm, [], "awake", result="the tool woke up")
    proc = subprocess.Popen(
        [*CLI, "run", "Wake the slow tool", "--mcp-config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    lines: list[tuple[float, str]] = []
    reader = threading.Thread(
        target=lambda: lines.extend((time.monotonic(), line.rstrip("\n")) for line in proc.stderr)
    )
    reader.start()
    out = proc.stdout.read()
    assert proc.wait(120) == 0, lines
    reader.join(10)
    text = [line for _, line in lines]
    assert not any(startup.STARTING in line for line in text)  # not a terminal: real lines only
    wanted = [
        "thread ",
        "▸ subtask 1.1 started: Wait for the slow tool",
        "  ↳ calling slow(seconds=2) (subtask 1.1)",
        "subtask 1.1 done (1 tool calls",
        "write_memory reward 1.0",
    ]
    found = [next(i for i, line in enumerate(text) if line.startswith(w)) for w in wanted]
    assert found == sorted(found), text
    called_at = lines[found[2]][0]
    [returned] = [
        a["start"] for a in llm.arrivals if is_executor(a["body"]) and after_tool(a["body"])
    ]
    assert called_at < returned - 1.0, (called_at, returned)  # shown while the tool slept 2 s
    assert "awake" in out


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    "argv, shown",
    [
        (["run", "a task"], True),
        (["resume", "t-1"], True),
        (["run", "a task", "--json"], False),  # machine-readable output stays clean
        (["run", "--help"], False),
        (["threads"], False),
        ([], False),
    ],
)
def test_the_starting_line_is_for_run_and_resume_on_a_terminal(monkeypatch, argv, shown):
    err, out = _Terminal(), _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(sys, "stdout", out)
    assert startup.show_starting(argv) is shown
    print("answer")  # the first output erases the line first
    assert err.getvalue() == (startup.STARTING + "\r\x1b[2K" if shown else "")
    print("more", file=sys.stderr)
    assert err.getvalue() == (startup.STARTING + "\r\x1b[2K" if shown else "") + "more\n"
    assert out.getvalue() == "answer\n"


def test_no_starting_line_when_standard_error_is_not_a_terminal(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    assert startup.show_starting(["run", "a task"]) is False
    assert err.getvalue() == ""
