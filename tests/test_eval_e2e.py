"""`memento eval` end to end on the real agent against the scripted model server."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from memento_graph.commands.eval import app
from memento_graph.context import Context
from roles import (
    answer_reply,
    grade_reply,
    is_executor,
    is_first_plan,
    is_grader,
    is_judge,
    is_planner,
    is_replan,
    plan_reply,
)
from scripted_llm import Reply, last_user
from waiting import wait_until

pytestmark = pytest.mark.integration  # processes: see conftest.py

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = {
    "Which river flows through Paris?": "Seine",
    "Who wrote Hamlet?": "William Shakespeare",
    "What is the capital of Columbia County?": "Bloomsburg",
    "How many legs does a spider have?": "8",
}


def task_of(req: dict) -> str:
    return last_user(req).split("\n", 1)[0].removeprefix("Task: ").strip()


def learning_planner(req: dict) -> Reply:
    """Plan one lookup; then answer right only when the prompt shows a past case of the task.

    An episode that answers without a plan never becomes a case, so each one plans first.
    """
    task = task_of(req)
    if not is_replan(req):
        return plan_reply(f"Look up: {task}")
    seen = last_user(req).count(f"Task: {task}") >= 2
    return answer_reply(QUESTIONS.get(task, "?") if seen else "I do not know")


def grader(req: dict) -> Reply:
    text = last_user(req)
    answer = text.rsplit("Candidate answer:", 1)[1].strip()
    gold = re.findall(r"^- (.*)$", text, flags=re.M)
    return grade_reply(answer in gold)


def script_eval(llm, latency: float = 0.0) -> None:
    llm.rule(is_grader, grader, name="grade")
    llm.rule(
        is_planner,
        lambda req: Reply(content=learning_planner(req).content, latency=latency),
        name="plan",
    )
    llm.rule(is_executor, Reply(content="found it"), name="execute")
    llm.rule(
        is_judge,
        Reply(
            content=json.dumps(
                {"rationale": "the answer names the right fact", "verdict": "correct"}
            )
        ),
    )


def write_formats(tmp_path: Path) -> dict[str, Path]:
    qs = list(QUESTIONS.items())[:3]
    plain = tmp_path / "plain.jsonl"
    plain.write_text(
        "".join(json.dumps({"question": q, "answers": [a, a.lower()]}) + "\n" for q, a in qs)
    )
    dr = tmp_path / "deepresearcher.jsonl"
    dr.write_text(
        "".join(
            json.dumps({"question": q, "ground_truth": f"{a}<|answer_split|>x", "data_source": s})
            + "\n"
            for (q, a), s in zip(qs, ["nq", "popqa", "hotpotqa"], strict=True)
        )
    )
    gaia = tmp_path / "gaia"
    gaia.mkdir()
    (gaia / "notes.txt").write_text("Paris lies on the Seine.")
    (gaia / "metadata.jsonl").write_text(
        "".join(
            json.dumps(
                {
                    "task_id": f"t{i}",
                    "Question": q,
                    "Final answer": a,
                    "Level": i % 2 + 1,
                    "file_name": "notes.txt" if i == 0 else "",
                }
            )
            + "\n"
            for i, (q, a) in enumerate(qs)
        )
    )
    simpleqa = tmp_path / "simple_qa_test_set.csv"
    with simpleqa.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["metadata", "problem", "answer"])
        for q, a in qs:
            w.writerow([repr({"topic": "Geo" if "capital" in q else "Other"}), q, a])
    return {"jsonl": plain, "deepresearcher": dr, "gaia": gaia, "simpleqa": simpleqa}


@pytest.mark.parametrize("fmt", ["jsonl", "deepresearcher", "gaia", "simpleqa"])
def test_each_format_gives_results_summary_curve_and_cis(llm, home, tmp_path, fmt):
    script_eval(llm)
    data = write_formats(tmp_path)[fmt]
    out = tmp_path / f"out-{fmt}"
    result = CliRunner().invoke(
        app, [str(data), "--iterations", "2", "--control", "--out", str(out), "--concurrency", "2"]
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(records) == 3 * 2 * 2
    summary = json.loads((out / "summary.json").read_text())
    mem = summary["arms"]["memory"]["iterations"]
    ctrl = summary["arms"]["control"]["iterations"]
    # iteration 1 knows nothing; iteration 2 sees its own earlier case; the control never does
    assert [it["metrics"]["em"]["mean"] for it in mem] == [0.0, 1.0]
    assert [it["metrics"]["em"]["mean"] for it in ctrl] == [0.0, 0.0]
    assert summary["gain"][1]["metrics"]["em"] == {"mean": 1.0, "low": 1.0, "high": 1.0, "n": 3}
    assert mem[1]["metrics"]["judge"]["mean"] == 1.0 and ctrl[1]["metrics"]["judge"]["mean"] == 0.0
    assert all({"mean", "low", "high", "n"} <= set(m) for m in mem[0]["metrics"].values())
    assert (out / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert "gain over control" in result.output
    every = result.output[result.output.index("Every metric, iteration 2") :]
    assert all(name in every for name in ("EM", "F1", "PM", "JUDGE"))
    if fmt == "deepresearcher":
        assert set(mem[0]["splits"]) == {"data_source", "distribution"}
        assert set(mem[0]["splits"]["distribution"]) == {"in", "out"}
    if fmt == "gaia":
        assert set(mem[0]["splits"]["Level"]) == {"1", "2"}
        attached = [r for r in llm.requests(is_first_plan) if "notes.txt" in last_user(r)]
        assert len(attached) == 4  # the attachment reached the planner, both arms, both passes
    if fmt == "simpleqa":
        assert set(mem[0]["splits"]["topic"]) == {"Geo", "Other"}


def test_control_writes_no_cases_and_memory_cases_accumulate(llm, home, tmp_path):
    script_eval(llm)
    data = write_formats(tmp_path)["jsonl"]
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, [str(data), "-n", "2", "--control", "--out", str(out), "--no-judge"]
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    control = [r for r in records if r["arm"] == "control"]
    memory = [r for r in records if r["arm"] == "memory"]
    assert control and all(r["case_id"] is None and r["cases_used"] == [] for r in control)
    assert all(r["case_id"] for r in memory)
    assert all(r["cases_used"] for r in memory if r["iteration"] == 2)
    assert all(r["scores"]["judge"] is None for r in records) and not llm.requests(is_grader)
    from memento_graph.memory import open_memory

    home_dir = str(out / "home")
    bank = open_memory(Context(home=home_dir, user="eval-control-s0"))
    assert bank.list_cases() == []
    cases = open_memory(Context(home=home_dir, user="eval-memory-s0")).list_cases()
    assert {c["task"] for c in cases} == {r["question"] for r in memory}


def test_bad_input_is_one_line_error(llm, home, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "answer": "a"}\n{"question": "q2"}\n')
    result = CliRunner().invoke(app, [str(bad), "--out", str(tmp_path / "o")])
    assert result.exit_code != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip() == "error: bad.jsonl line 2: missing field 'answer' (or 'answers')"
    result = CliRunner().invoke(app, [str(bad), "--memory", "magic"])
    assert result.stderr.strip().startswith("error: --memory must be")
    data = write_formats(tmp_path)["jsonl"]
    result = CliRunner().invoke(app, [str(data), "--split-by", "nope"])
    assert "error: --split-by 'nope' is not a field" in result.stderr


def test_killed_eval_resumes_without_redoing_finished_items(llm, home, tmp_path):
    script_eval(llm, latency=0.3)
    data = tmp_path / "qa.jsonl"
    questions = list(QUESTIONS) + [f"What is {i} plus {i}?" for i in range(4)]
    data.write_text("".join(json.dumps({"question": q, "answer": "x"}) + "\n" for q in questions))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [
        sys.executable,
        "-m",
        "memento_graph.commands.eval",
        str(data),
        "--out",
        str(out),
        "--concurrency",
        "1",
        "--no-judge",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    results = out / "results.jsonl"

    def three_items_done() -> bool:
        assert proc.poll() is None, proc.communicate()
        return results.exists() and len(results.read_text().splitlines()) >= 3

    wait_until(three_items_done, 150, "three finished items")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = [json.loads(line)["question"] for line in results.read_text().splitlines()]
    assert 3 <= len(done) < len(questions)
    before = len(llm.requests())

    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert rerun.returncode == 0, rerun.stderr
    records = [json.loads(line) for line in results.read_text().splitlines()]
    assert sorted(r["question"] for r in records) == sorted(questions)  # each item exactly once
    assert len(llm.requests(is_first_plan)) <= len(questions) + 1  # at most the one in flight
    replanned = {task_of(r) for r in llm.requests()[before:] if is_first_plan(r)}
    assert not replanned & set(done)  # finished items were not asked again
    assert replanned <= set(questions) - set(done)
    assert (
        json.loads((out / "summary.json").read_text())["arms"]["memory"]["iterations"][0]["n"] == 8
    )


async def test_pool_reads_back_a_thread_finished_before_a_kill(llm, home, tmp_path):
    from memento_graph.eval.agent import AgentPool
    from memento_graph.eval.datasets import EvalItem
    from memento_graph.eval.harness import EvalConfig, Job

    script_eval(llm)
    job = Job("memory", 0, 1, 0, EvalItem("a", "Who wrote Hamlet?", ["William Shakespeare"]))
    async with AgentPool(EvalConfig(dataset="x", out=tmp_path), Context(), "r1") as pool:
        first = await pool(job)
        asked = len(llm.requests())
        again = await pool(job)  # same stable thread id: read back, not rerun
    assert first.status == again.status == "done" and again.answer == first.answer
    assert again.case_id == first.case_id and len(llm.requests()) == asked


async def test_pool_restarts_a_thread_killed_before_its_first_checkpoint(llm, home, tmp_path):
    from memento_graph.eval.agent import AgentPool
    from memento_graph.eval.datasets import EvalItem
    from memento_graph.eval.harness import EvalConfig, Job

    script_eval(llm)
    job = Job("memory", 0, 1, 0, EvalItem("a", "Who wrote Hamlet?", ["William Shakespeare"]))
    async with AgentPool(EvalConfig(dataset="x", out=tmp_path), Context(), "r1") as pool:
        agent = pool.agent("memory", 0)
        agent.index.start(job.thread_id("r1"), job.item.question, agent.context)  # then killed
        outcome = await pool(job)
        again = await pool(job)
    assert outcome.status == "done" and outcome.thread_id == job.thread_id("r1")
    assert again.thread_id == outcome.thread_id and len(llm.requests(is_first_plan)) == 1


def test_unreachable_endpoint_stops_the_eval_with_one_line(home, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    data = write_formats(tmp_path)["jsonl"]
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [str(data), "--out", str(out), "--no-judge"])
    assert result.exit_code != 0
    assert result.stderr.strip().startswith("error: cannot reach the model endpoint")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (out / "results.jsonl").exists() or not (out / "results.jsonl").read_text()


async def test_pool_records_an_item_crash_as_failed_but_stops_on_user_errors(tmp_path, monkeypatch):
    from memento_graph.errors import MementoError
    from memento_graph.eval.agent import AgentPool
    from memento_graph.eval.datasets import EvalItem
    from memento_graph.eval.harness import EvalConfig, Job

    async def crash(agent, job, thread_id):
        raise (MementoError("no such file: x") if job.item.id == "bad" else KeyError("oops"))

    monkeypatch.setattr(AgentPool, "_drive", staticmethod(crash))
    pool = AgentPool(EvalConfig(dataset="x", out=tmp_path), Context(home=str(tmp_path)), "r1")
    monkeypatch.setattr(pool, "agent", lambda arm, seed: None)
    failed = await pool(Job("memory", 0, 1, 0, EvalItem("a", "q", ["a"])))
    assert failed["status"] == "failed" and failed["error"] == "KeyError: 'oops'"
    with pytest.raises(MementoError, match="no such file"):
        await pool(Job("memory", 0, 1, 0, EvalItem("bad", "q", ["a"])))
