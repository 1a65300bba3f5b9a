"""One `memento eval` session: check the options, run every arm over the schedule, report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from memento_graph.eval.datasets import EvalItem
    from memento_graph.eval.harness import EvalConfig


def evaluate(config: EvalConfig) -> None:
    """Run an evaluation end to end: check, load, run the arms, print and write the summary."""
    import asyncio
    import os

    from rich.console import Console

    from memento_graph.errors import MementoError
    from memento_graph.eval.checks import check_options, split_fields
    from memento_graph.eval.datasets import load_dataset
    from memento_graph.eval.harness import finished
    from memento_graph.eval.report import (
        metrics_table,
        plot_learning_curve,
        split_tables,
        summarize,
        summary_table,
        write_summary,
    )
    from memento_graph.eval.results import ResultsLog, file_sha256, open_manifest

    check_options(config)
    if not os.environ.get("OPENAI_API_KEY"):
        raise MementoError(
            "OPENAI_API_KEY is not set: export it (any non-empty value works for local servers)"
        )
    items = load_dataset(config.dataset, config.fmt)
    splits = split_fields(items, config.split_by)
    cases = Path(config.cases).expanduser() if config.cases else None
    source = Path(config.dataset).expanduser()
    source = source / "metadata.jsonl" if source.is_dir() else source
    settings = {
        "dataset": str(source.resolve()),
        "dataset_sha256": file_sha256(source),
        "format": config.fmt,
        "memory": config.memory,
        "shuffle": config.shuffle,
        "limit": config.limit,
        "iterations": config.iterations,
        "seeds": config.seeds,
        "control": config.control,
        "metric": config.metric,
        "judge": config.judge,
        "splits": splits,
        "cases": str(cases.resolve()) if cases else None,
        "cases_sha256": file_sha256(cases) if cases else None,
        "seen_filter": f">= {config.seen_similarity:g}" if config.exclude_seen else None,
    }
    manifest = open_manifest(Path(config.out), settings)
    seen = None
    if cases:
        from memento_graph.context import Context
        from memento_graph.eval.seen import prepare, tell

        items, seen = prepare(Context(), config, items)
        tell(Console(stderr=True), seen, config, len(items))
    done = finished(config, ResultsLog(Path(config.out)))
    records = asyncio.run(_evaluate(config, items, manifest["run_id"], done))
    summary = summarize(records, splits, settings)
    if seen is not None:
        summary["seen"] = seen.summary(config.seen_similarity, config.exclude_seen)
    console = Console()
    console.print(summary_table(summary))
    if seen is not None and seen.count:
        what = "left out" if config.exclude_seen else "included: recall, not learning"
        console.print(
            f"seen in the case bank: {seen.count} of {seen.checked} questions ({what})",
            highlight=False,
        )
    console.print(metrics_table(summary))
    for table in split_tables(summary):
        console.print(table)
    summary_path = write_summary(summary, Path(config.out))
    png = plot_learning_curve(summary, Path(config.out) / "learning_curve.png")
    console.print(
        f"results: {Path(config.out) / 'results.jsonl'}\nsummary: {summary_path}\n"
        f"learning curve: {png}",
        highlight=False,
        soft_wrap=True,
    )


def _load_plotting() -> None:
    """Import matplotlib (1-3 s) in the background, so the learning curve is drawn at once."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401 - loaded for plot_learning_curve


async def _evaluate(
    config: EvalConfig, items: list[EvalItem], run_id: str, done: dict[str, Any]
) -> list[dict[str, Any]]:
    import threading
    from contextlib import AsyncExitStack, nullcontext

    from rich.console import Console

    from memento_graph.context import Context
    from memento_graph.eval.agent import AgentPool
    from memento_graph.eval.harness import pending_jobs, run_eval, schedule
    from memento_graph.eval.metrics import open_llm_judge
    from memento_graph.eval.progress import Tally, eval_progress

    base = Context()
    passes = schedule(items, config)
    total = sum(len(order) for _, _, order in passes) * len(config.arms)
    todo = len(pending_jobs(items, config, done))
    tally = Tally(config.metric, config.arms, done.values())
    progress = eval_progress(
        Console(), tally, total, total - todo, len(passes[0][2]) if passes else 0
    )
    judging = open_llm_judge(
        base.judge_model, timeout=base.model_timeout, max_tokens=base.judge_max_tokens
    )
    async with AsyncExitStack() as stack:
        judge = await stack.enter_async_context(judging if config.judge else nullcontext())
        pool = await stack.enter_async_context(AgentPool(config, base, run_id))
        # while the items wait for the model, not while the agent opens (2 cores, one GIL)
        threading.Thread(target=_load_plotting, daemon=True).start()
        with progress:
            return await run_eval(
                config, items, pool, run_id=run_id, judge=judge, on_record=progress.update
            )
