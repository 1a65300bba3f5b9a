"""Failed item-runs in `memento eval`: counted apart from wrong answers, tokens kept, plain lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from memento_graph.context import Context
from memento_graph.eval.datasets import EvalItem
from memento_graph.eval.harness import EvalConfig, Job, run_eval
from memento_graph.eval.progress import PlainLines, Tally
from memento_graph.eval.report import split_tables, summarize, summary_table, write_summary
from roles import (
    answer_reply,
    is_executor,
    is_first_plan,
    is_judge,
    is_planner,
    is_replan,
    plan_reply,
)
from scripted_llm import Reply, last_user

ROOT = Path(__file__).resolve().parents[1]


def items(n: int) -> list[EvalItem]:
    return [
        EvalItem(f"q{i}", f"question {i}?", [f"answer {i}"], fields={"topic": "ab"[i % 2]})
        for i in range(n)
    ]


async def crashes_q0_in_memory(job: Job) -> dict:
    """Memory arm: q0 fails after spending tokens; every other item-run answers right."""
    if job.arm == "memory" and job.item.id == "q0":
        return {
            "status": "failed",
            "error": "KeyError: 'x'",
            "tokens": {"input": 420, "output": 768},
        }
    return {"status": "done", "answer": job.item.answers[0], "tokens": {"input": 5, "output": 1}}


async def test_failed_item_is_counted_apart_not_as_a_wrong_answer(tmp_path):
    cfg = EvalConfig(dataset="x", out=tmp_path, control=True)
    graded: list[str] = []

    async def judge(question, answer, answers):
        graded.append(question)
        from memento_graph.judge import Judgement, JudgeReply

        return Judgement(JudgeReply(rationale="the same city", verdict="correct"))

    records = await run_eval(cfg, items(4), crashes_q0_in_memory, judge=judge)
    bad = next(r for r in records if r["status"] == "failed")
    assert bad["scores"] == {"em": None, "f1": None, "pm": None, "judge": None}
    assert bad["tokens"] == {"input": 420, "output": 768} and bad["error"] == "KeyError: 'x'"
    assert len(graded) == 7  # the failed run's (empty) answer is not sent to the judge

    summary = summarize(records, ["topic"], {"metric": "em", "splits": ["topic"]})
    mem = summary["arms"]["memory"]["iterations"][0]
    ctrl = summary["arms"]["control"]["iterations"][0]
    assert (mem["n"], mem["ran"], mem["failed"], mem["failure_rate"]) == (4, 3, 1, 0.25)
    assert mem["metrics"]["em"]["mean"] == 1.0 and mem["metrics"]["em"]["n"] == 3
    assert mem["statuses"] == {"failed": 1, "done": 3}
    assert mem["tokens"] == {"input": 435, "output": 771}  # the failed run's tokens counted
    assert mem["split_failed"]["topic"] == {"a": {"n": 2, "failed": 1}, "b": {"n": 2, "failed": 0}}
    assert ctrl["failed"] == 0 and ctrl["metrics"]["em"]["n"] == 4
    gain = summary["gain"][0]
    assert gain["pairs"] == 3 and gain["excluded_failed"] == 1
    assert gain["metrics"]["em"]["n"] == 3 and gain["metrics"]["em"]["mean"] == 0.0
    saved = json.loads(write_summary(summary, tmp_path).read_text())
    assert saved["arms"]["memory"]["iterations"][0]["failed"] == 1

    console = Console(record=True, width=160)
    console.print(summary_table(summary))
    for table in split_tables(summary):
        console.print(table)
    text = console.export_text()
    assert "failed (memory · control)" in text and "1 · 0" in text
    assert "not counted as wrong answers" in text and "leaves out 1 pairs" in text


def test_plain_lines_name_arm_seed_iteration_item_status_score_and_seconds():
    console = Console(record=True, width=60, force_terminal=False)
    lines = PlainLines(console, Tally("em", ["memory"]), total=2, completed=0, per_pass=2)
    base = {"arm": "memory", "seed": 0, "iteration": 1, "seconds": 2.25}
    lines.update({**base, "position": 0, "status": "done", "scores": {"em": 1.0}})
    lines.update(
        {**base, "position": 1, "status": "failed", "scores": {"em": None}, "error": "boom"}
    )
    out = console.export_text().splitlines()
    assert out[0] == "eval: 2 item-runs to do, 0 done earlier"
    assert out[1].startswith("[1/2] memory seed 0 iteration 1 item 1/2: done, em 1, 2.2 s")
    assert out[2].startswith("[2/2] memory seed 0 iteration 1 item 2/2: failed (boom), em -")
    assert out[2].endswith("em: memory 100.0% (1 failed)")  # one line each, never wrapped


async def test_pool_keeps_the_checkpointed_tokens_of_a_crashed_thread(llm, home, tmp_path):
    from memento_graph.eval.agent import AgentPool

    llm.rule(is_planner, answer_reply("Seine"))
    llm.rule(is_judge, Reply(content=json.dumps({"rationale": "names it", "verdict": "correct"})))
    real = AgentPool._drive

    async def crash_after_run(agent, job, thread_id):
        await real(agent, job, thread_id)  # tokens spent and checkpointed, then a crash
        raise KeyError("late")

    job = Job("memory", 0, 1, 0, EvalItem("a", "Which river flows through Paris?", ["Seine"]))
    async with AgentPool(EvalConfig(dataset="x", out=tmp_path), Context(), "r1") as pool:
        pool._drive = crash_after_run  # type: ignore[method-assign]
        failed = await pool(job)
    assert failed["status"] == "failed" and failed["error_kind"] == "crash"
    assert failed["tokens"]["input"] > 0 and failed["tokens"]["output"] > 0


@pytest.mark.integration
def test_eval_in_a_pipe_prints_plain_lines_and_counts_a_failed_item(llm, home, tmp_path):
    """The executor of one item keeps failing (HTTP 500): that item fails, with its tokens."""
    llm.rule(lambda r: is_first_plan(r) and "Paris" in last_user(r), plan_reply("look it up"))
    llm.rule(is_executor, Reply(status=500))
    llm.rule(is_replan, answer_reply("Seine"))
    llm.rule(is_planner, answer_reply("Shakespeare"))
    data = tmp_path / "qa.jsonl"
    rows = [("Which river flows through Paris?", "Seine"), ("Who wrote Hamlet?", "Shakespeare")]
    data.write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in rows))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-m", "memento_graph.commands.eval", str(data), "--out", str(out)]
    proc = subprocess.run(
        [*cmd, "--no-judge", "--concurrency", "1"], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "eval: 2 item-runs to do, 0 done earlier"
    assert lines[1].startswith("[1/2] memory seed 0 iteration 1 item 1/2: failed (")
    assert lines[2].startswith("[2/2] memory seed 0 iteration 1 item 2/2: done, em 1,")
    table = next(i for i, line in enumerate(lines) if "per iteration" in line)
    assert table == 3 and "━" not in "".join(lines[:3])  # no live bar when not a terminal
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    bad = next(r for r in records if r["status"] == "failed")
    assert bad["error_kind"] == "status" and bad["scores"]["em"] is None
    assert bad["tokens"]["input"] > 0 and bad["tokens"]["output"] > 0  # the planner's, kept
    it = json.loads((out / "summary.json").read_text())["arms"]["memory"]["iterations"][0]
    assert (it["failed"], it["ran"]) == (1, 1) and it["metrics"]["em"]["mean"] == 1.0


def test_live_bar_on_a_terminal_plain_lines_otherwise():
    from memento_graph.eval.progress import LiveBar, eval_progress

    tally = Tally("em", ["memory"])
    tty = Console(force_terminal=True, record=True)
    assert isinstance(eval_progress(tty, tally, 4, 0, 4), LiveBar)
    pipe = Console(force_terminal=False, record=True)
    assert isinstance(eval_progress(pipe, tally, 4, 1, 4), PlainLines)
    assert pipe.export_text().startswith("eval: 3 item-runs to do, 1 done earlier")
