"""The eval schedule: seeds x iterations x items, the memory arm and the control side by side.

Each iteration passes over the data set with memory writes on (the memory arm's cases accumulate
across iterations of one seed); the control arm runs the same schedule with memory off. Items run
`concurrency` at a time; an iteration ends before the next begins. Every finished item is one
durable line in `results.jsonl`, so a rerun with the same `--out` skips what is done.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memento_graph.eval.datasets import EvalItem
from memento_graph.eval.metrics import METRICS, Judge, score_answer
from memento_graph.eval.results import ResultsLog
from memento_graph.eval.seen import SEEN_SIMILARITY

MEMORY_ARM = "memory"
CONTROL_ARM = "control"
FAILED = "failed"
"""Status of an item-run that failed or crashed: counted apart from wrong answers."""
TEXT_FIELDS = {
    "question",
    "answer",
    "answers",
    "ground_truth",
    "Question",
    "Final answer",
    "problem",
}


@dataclass
class EvalConfig:
    """Settings of one eval run (the `memento eval` options)."""

    dataset: str
    out: Path
    iterations: int = 1
    memory: str = "similarity"
    control: bool = False
    seeds: int = 1
    shuffle: bool = False
    limit: int | None = None
    split_by: str | None = None
    concurrency: int = 4
    metric: str = "em"
    judge: bool = True
    retry_failed: bool = False
    fmt: str = "auto"
    cases: str | None = None
    exclude_seen: bool = False
    seen_similarity: float = SEEN_SIMILARITY

    @property
    def arms(self) -> list[str]:
        """Return the arms to run: the memory arm, and the control when asked."""
        return [MEMORY_ARM, CONTROL_ARM] if self.control else [MEMORY_ARM]


@dataclass(frozen=True)
class Job:
    """One item to run: which arm, seed, iteration and position in that pass."""

    arm: str
    seed: int
    iteration: int
    position: int
    item: EvalItem

    @property
    def key(self) -> str:
        """Return the key of this job's record in results.jsonl."""
        return f"{self.arm}/s{self.seed}/i{self.iteration}/{self.item.id}"

    def thread_id(self, run_id: str) -> str:
        """Return the agent thread id of this job (stable, so a rerun can find it)."""
        return f"eval-{run_id}-{self.key.replace('/', '-')}"


RunItem = Callable[[Job], Awaitable[Any]]
OnRecord = Callable[[dict[str, Any]], None]


def schedule(items: list[EvalItem], config: EvalConfig) -> list[tuple[int, int, list[EvalItem]]]:
    """Return (seed, iteration, items in order) passes; `--shuffle` reorders each pass per seed."""
    chosen = items[: config.limit] if config.limit else list(items)
    passes = []
    for seed in range(config.seeds):
        for iteration in range(1, config.iterations + 1):
            order = list(chosen)
            if config.shuffle:
                random.Random(f"{seed}:{iteration}").shuffle(order)
            passes.append((seed, iteration, order))
    return passes


def pending_jobs(items: list[EvalItem], config: EvalConfig, done: dict[str, dict]) -> list[Job]:
    """Return every job of the schedule that has no finished record yet, in run order."""
    return [
        job
        for seed, iteration, order in schedule(items, config)
        for position, item in enumerate(order)
        for arm in config.arms  # arms interleaved: they advance side by side
        if (job := Job(arm, seed, iteration, position, item)).key not in done
    ]


def finished(config: EvalConfig, log: ResultsLog) -> dict[str, dict[str, Any]]:
    """Return the records that count as done (failed ones excluded under `retry_failed`)."""
    records = log.load()
    if config.retry_failed:
        records = {k: r for k, r in records.items() if r.get("status") != "failed"}
    return records


async def run_eval(
    config: EvalConfig,
    items: list[EvalItem],
    run_item: RunItem,
    *,
    run_id: str = "run",
    judge: Judge | None = None,
    on_record: OnRecord | None = None,
) -> list[dict[str, Any]]:
    """Run every pending job and return all records of the schedule (finished earlier or now)."""
    log = ResultsLog(config.out)
    done = finished(config, log)
    semaphore = asyncio.Semaphore(max(1, config.concurrency))

    async def one(job: Job) -> None:
        async with semaphore:
            started = time.monotonic()
            outcome = _as_dict(await run_item(job))
            record = await _record(job, outcome, run_id, judge, time.monotonic() - started)
        log.append(record)
        done[job.key] = record
        if on_record:
            on_record(record)

    jobs = pending_jobs(items, config, done)
    for pass_key in dict.fromkeys((j.seed, j.iteration) for j in jobs):
        batch = [j for j in jobs if (j.seed, j.iteration) == pass_key]
        tasks = [asyncio.ensure_future(one(job)) for job in batch]
        try:
            await asyncio.gather(*tasks)
        except BaseException:  # one job failed or we were cancelled: stop the others cleanly
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
    keys = {
        Job(arm, s, i, p, item).key
        for s, i, order in schedule(items, config)
        for arm in config.arms
        for p, item in enumerate(order)
    }
    return [r for k, r in done.items() if k in keys]


def _as_dict(outcome: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(outcome) and not isinstance(outcome, type):
        return dataclasses.asdict(outcome)
    return dict(outcome)


async def _record(
    job: Job, outcome: dict[str, Any], run_id: str, judge: Judge | None, elapsed: float
) -> dict[str, Any]:
    """Return the results.jsonl record of one item-run; a failed run is not scored."""
    item = job.item
    answer = outcome.get("answer") or ""
    status = outcome.get("status", "done")
    scores: dict[str, float | None] = dict.fromkeys(METRICS)
    rationale = None
    if status != FAILED:
        scores.update(score_answer(answer, item.answers))
        if judge is not None:
            judged = await judge(item.question, answer, item.answers)
            if judged.reply is None:
                rationale = (
                    f"judge score unknown: the judge's reply was unusable ({judged.problem})"
                )
            else:
                scores["judge"] = float(judged.reply.correct)
                rationale = judged.reply.rationale
    return {
        "key": job.key,
        "arm": job.arm,
        "seed": job.seed,
        "iteration": job.iteration,
        "position": job.position,
        "item_id": item.id,
        "question": item.question,
        "answers": item.answers,
        "fields": {k: v for k, v in item.fields.items() if k not in TEXT_FIELDS},
        "thread_id": outcome.get("thread_id") or job.thread_id(run_id),
        "status": status,
        "answer": answer,
        "scores": scores,
        "judge_rationale": rationale,
        "reward": outcome.get("reward"),
        "case_id": outcome.get("case_id"),
        "cases_used": list(outcome.get("cases_used") or []),
        "tokens": dict(outcome.get("tokens") or {"input": 0, "output": 0}),
        "seconds": round(float(outcome.get("seconds") or elapsed), 3),
        "error": outcome.get("error"),
        "error_kind": outcome.get("error_kind"),
    }
