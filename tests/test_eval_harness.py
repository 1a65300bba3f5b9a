"""The eval schedule with an injected `run_item`: order, concurrency, resume, reports."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from rich.console import Console

from memento_graph.errors import MementoError
from memento_graph.eval.datasets import EvalItem
from memento_graph.eval.harness import EvalConfig, Job, run_eval, schedule
from memento_graph.eval.report import plot_learning_curve, summarize, summary_table, write_summary
from memento_graph.eval.results import ResultsLog, open_manifest
from memento_graph.judge import Judgement, JudgeReply


def make_items(n: int) -> list[EvalItem]:
    return [
        EvalItem(
            f"q{i}",
            f"question {i}?",
            [f"answer {i}"],
            fields={"data_source": "nq" if i % 2 else "popqa"},
        )
        for i in range(n)
    ]


class LearningAgent:
    """Answers right once it has seen an item before (memory arm only); logs every call."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls: list[str] = []
        self.seen: set[tuple[int, str]] = set()
        self.delay = delay
        self.running = 0
        self.peak = 0
        self.started: list[tuple[int, int]] = []

    async def __call__(self, job: Job) -> dict:
        self.calls.append(job.key)
        self.started.append((job.seed, job.iteration))
        self.running += 1
        self.peak = max(self.peak, self.running)
        await asyncio.sleep(self.delay)
        self.running -= 1
        key = (job.seed, job.item.id)
        knows = job.arm == "memory" and key in self.seen
        if job.arm == "memory":
            self.seen.add(key)
        right = knows or job.item.id in ("q0", "q1")
        return {
            "status": "done",
            "answer": job.item.answers[0] if right else "no idea",
            "reward": float(right),
            "case_id": f"c-{job.key}" if job.arm == "memory" else None,
            "cases_used": ["c1"] if knows else [],
            "tokens": {"input": 10, "output": 5},
            "seconds": 0.01,
        }


def config(tmp_path: Path, **kw) -> EvalConfig:
    return EvalConfig(dataset="x.jsonl", out=tmp_path, **kw)


def test_schedule_shuffles_per_seed_and_iteration_reproducibly(tmp_path):
    items = make_items(20)
    plain = schedule(items, config(tmp_path, iterations=2))
    assert [o for _, _, o in plain] == [items, items]
    a = schedule(items, config(tmp_path, iterations=2, seeds=2, shuffle=True))
    b = schedule(items, config(tmp_path, iterations=2, seeds=2, shuffle=True))
    assert [[i.id for i in o] for *_, o in a] == [[i.id for i in o] for *_, o in b]
    orders = [tuple(i.id for i in o) for *_, o in a]
    assert len(set(orders)) == 4 and all(sorted(o) == sorted(orders[0]) for o in orders)
    assert [len(o) for *_, o in schedule(items, config(tmp_path, limit=5))] == [5]


async def test_arms_side_by_side_bounded_concurrency_and_iteration_barrier(tmp_path):
    agent = LearningAgent(delay=0.02)
    cfg = config(tmp_path, iterations=3, control=True, concurrency=3)
    records = await run_eval(cfg, make_items(6), agent)
    assert len(records) == 6 * 3 * 2 and len(set(agent.calls)) == len(agent.calls)
    assert agent.peak == 3  # items really overlap, never more than --concurrency
    assert agent.started == sorted(agent.started)  # iteration 2 starts after iteration 1 ends
    assert agent.calls[:2] == ["memory/s0/i1/q0", "control/s0/i1/q0"]  # arms interleaved
    lines = (tmp_path / "results.jsonl").read_text().splitlines()
    rec = json.loads(lines[0])
    assert {"answer", "scores", "reward", "cases_used", "tokens", "seconds", "thread_id"} <= set(
        rec
    )
    assert rec["fields"] == {"data_source": "popqa"}


async def test_resume_skips_finished_items_and_repairs_a_cut_line(tmp_path):
    items = make_items(5)
    cfg = config(tmp_path, iterations=2, concurrency=1)
    calls = 0

    async def dies_after_four(job: Job) -> dict:
        nonlocal calls
        calls += 1
        if calls > 4:
            raise RuntimeError("killed")
        return await LearningAgent()(job)

    with pytest.raises(RuntimeError):
        await run_eval(cfg, items, dies_after_four)
    log = tmp_path / "results.jsonl"
    assert len(log.read_text().splitlines()) == 4
    with log.open("a") as fh:  # a kill in the middle of writing a line
        fh.write('{"key": "memory/s0/i1/q4", "ans')
    agent = LearningAgent()
    records = await run_eval(cfg, items, agent)
    assert agent.calls == ["memory/s0/i1/q4"] + [f"memory/s0/i2/q{i}" for i in range(5)]
    assert len(records) == 10 and len(log.read_text().splitlines()) == 10
    again = LearningAgent()
    assert len(await run_eval(cfg, items, again)) == 10 and again.calls == []


async def test_retry_failed_reruns_only_failed_items(tmp_path):
    items = make_items(3)

    async def fails_q1(job: Job) -> dict:
        if job.item.id == "q1":
            return {"status": "failed", "answer": None, "error": "timeout"}
        return await LearningAgent()(job)

    records = await run_eval(config(tmp_path), items, fails_q1)
    failed = [r for r in records if r["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["scores"]["em"] is None  # not a wrong answer
    agent = LearningAgent()
    await run_eval(config(tmp_path), items, agent)
    assert agent.calls == []
    records = await run_eval(config(tmp_path, retry_failed=True), items, agent)
    assert agent.calls == ["memory/s0/i1/q1"]
    assert {r["status"] for r in records} == {"done"} and len(records) == 3


async def test_judge_scores_every_answer(tmp_path):
    asked = []

    async def judge(question: str, answer: str, answers: list[str]) -> Judgement:
        asked.append(question)
        if question == "question 3?":  # a reply the judge's check refused: the score is unknown
            return Judgement(None, "the rationale is too short to be a reason: 'same'")
        verdict = "correct" if answer == answers[0] else "incorrect"
        return Judgement(JudgeReply(rationale="same city named", verdict=verdict))

    records = await run_eval(config(tmp_path), make_items(4), LearningAgent(), judge=judge)
    assert len(asked) == 4
    assert [r["scores"]["judge"] for r in records] == [1.0, 1.0, 0.0, None]
    assert records[0]["judge_rationale"] == "same city named"
    assert "judge score unknown" in records[3]["judge_rationale"]
    assert records[3]["scores"]["em"] is not None  # the lexical metrics still count


def test_manifest_keeps_settings_that_change_results(tmp_path):
    first = open_manifest(
        tmp_path, {"dataset_sha256": "abc", "memory": "similarity", "iterations": 2}
    )
    again = open_manifest(
        tmp_path, {"dataset_sha256": "abc", "memory": "similarity", "iterations": 5}
    )
    assert again["run_id"] == first["run_id"] and again["iterations"] == 5
    with pytest.raises(MementoError, match="holds a run with memory='similarity', not 'learned'"):
        open_manifest(tmp_path, {"dataset_sha256": "abc", "memory": "learned"})
    with pytest.raises(MementoError, match="dataset_sha256"):
        open_manifest(tmp_path, {"dataset_sha256": "def", "memory": "similarity"})


async def test_summary_table_and_learning_curve_with_control(tmp_path):
    cfg = config(tmp_path, iterations=3, control=True, seeds=2, concurrency=4)
    records = await run_eval(cfg, make_items(10), LearningAgent())
    summary = summarize(records, ["data_source"], {"metric": "em", "memory": "similarity"})
    mem = summary["arms"]["memory"]["iterations"]
    ctrl = summary["arms"]["control"]["iterations"]
    assert [it["n"] for it in mem] == [20, 20, 20]
    assert mem[0]["metrics"]["em"]["mean"] == 0.2 and mem[1]["metrics"]["em"]["mean"] == 1.0
    assert all(it["metrics"]["em"]["mean"] == 0.2 for it in ctrl)
    em = mem[0]["metrics"]["em"]
    assert em["low"] <= em["mean"] <= em["high"] and em["high"] - em["low"] > 0
    assert mem[1]["cases_used_mean"] == 1.0 and ctrl[1]["cases_written"] == 0
    gain = summary["gain"]
    assert gain[0]["metrics"]["em"]["mean"] == 0.0 and gain[2]["metrics"]["em"]["mean"] == 0.8
    assert gain[2]["metrics"]["em"]["low"] > 0.5
    assert set(mem[0]["splits"]["data_source"]) == {"nq", "popqa"}
    assert set(gain[1]["splits"]["data_source"]["nq"]) >= {"em", "f1", "pm"}
    assert mem[0]["tokens"] == {"input": 200, "output": 100}

    path = write_summary(summary, tmp_path)
    assert json.loads(path.read_text())["gain"][2]["metrics"]["em"]["mean"] == 0.8
    png = plot_learning_curve(summary, tmp_path / "curve.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    console = Console(record=True, width=140)
    console.print(summary_table(summary))
    text = console.export_text()
    assert "gain over control" in text and "100.0 [100.0, 100.0]" in text and "+80.0" in text


def test_results_log_last_record_wins(tmp_path):
    log = ResultsLog(tmp_path)
    log.append({"key": "a", "status": "failed"})
    log.append({"key": "a", "status": "done"})
    assert log.load() == {"a": {"key": "a", "status": "done"}}
