"""`memento eval DATASET`: learning curves over iterations, a no-memory control, 95% CIs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from memento_graph.eval.datasets import EvalItem
    from memento_graph.eval.harness import EvalConfig

AUTO_SPLITS = ("data_source", "Level", "topic")


def eval_command(
    dataset: Annotated[
        Path,
        typer.Argument(
            help="JSONL (question + answer/answers), deepresearcher.jsonl, "
            "GAIA metadata.jsonl (or its folder), or SimpleQA CSV."
        ),
    ],
    iterations: Annotated[
        int, typer.Option("--iterations", "-n", help="Passes over the data set.")
    ] = 1,
    memory: Annotated[
        str, typer.Option(help="Memory of the agent: none, similarity or learned.")
    ] = "similarity",
    control: Annotated[
        bool, typer.Option("--control", help="Also run the same schedule with memory off.")
    ] = False,
    seeds: Annotated[
        int, typer.Option(help="Independent repetitions, each with an empty case bank.")
    ] = 1,
    shuffle: Annotated[
        bool, typer.Option("--shuffle", help="Shuffle the order of each pass (seeded).")
    ] = False,
    limit: Annotated[int | None, typer.Option(help="Use only the first N items.")] = None,
    split_by: Annotated[
        str | None,
        typer.Option(help="Item field to report scores by (default: data_source, Level or topic)."),
    ] = None,
    concurrency: Annotated[int, typer.Option(help="Items run at the same time.")] = 4,
    out: Annotated[
        Path | None, typer.Option(help="Output folder; rerun with the same one to resume.")
    ] = None,
    metric: Annotated[str, typer.Option(help="Headline metric: em, f1, pm or judge.")] = "em",
    judge: Annotated[
        bool, typer.Option("--judge/--no-judge", help="Also grade answers with the LLM judge.")
    ] = True,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="On resume, rerun items that failed.")
    ] = False,
    fmt: Annotated[
        str, typer.Option("--format", help="auto, jsonl, deepresearcher, gaia or simpleqa.")
    ] = "auto",
) -> None:
    """Evaluate the agent on a data set: accuracy per iteration, gain over a control, CIs."""
    from rich.console import Console

    from memento_graph.errors import MementoError
    from memento_graph.eval.harness import EvalConfig

    err = Console(stderr=True)
    config = EvalConfig(
        dataset=str(dataset),
        out=out or Path("memento-eval") / dataset.stem,
        iterations=iterations,
        memory=memory,
        control=control,
        seeds=seeds,
        shuffle=shuffle,
        limit=limit,
        split_by=split_by,
        concurrency=concurrency,
        metric=metric,
        judge=judge,
        retry_failed=retry_failed,
        fmt=fmt,
    )
    try:
        _run(config)
    except MementoError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err.print(f"interrupted: finished items are kept; rerun with --out {config.out} to resume")
        raise typer.Exit(130) from None


def check_options(config: EvalConfig) -> None:
    """Raise a MementoError for an option out of range."""
    from memento_graph.errors import MementoError
    from memento_graph.eval.metrics import METRICS

    if config.memory not in ("none", "similarity", "learned"):
        raise MementoError(f"--memory must be none, similarity or learned, not {config.memory!r}")
    if config.metric not in METRICS:
        raise MementoError(f"--metric must be one of {', '.join(METRICS)}, not {config.metric!r}")
    if config.metric == "judge" and not config.judge:
        raise MementoError("--metric judge needs the LLM judge: drop --no-judge")
    for name, most in (("iterations", 1000), ("seeds", 1000), ("concurrency", 256)):
        if not 1 <= getattr(config, name) <= most:
            raise MementoError(
                f"--{name} must be between 1 and {most}, got {getattr(config, name)}"
            )
    if Path(config.out).exists() and not Path(config.out).is_dir():
        raise MementoError(f"--out {config.out} is a file: give a folder (made if missing)")
    if config.limit is not None and not 1 <= config.limit <= 10**9:
        raise MementoError(f"--limit must be between 1 and 10^9, got {config.limit}")


def split_fields(items: list[EvalItem], split_by: str | None) -> list[str]:
    """Return the item fields to report by: --split-by (checked) or the format's usual one."""
    from memento_graph.errors import MementoError

    present = {k for item in items for k in item.fields}
    if split_by and split_by not in present:
        raise MementoError(
            f"--split-by {split_by!r} is not a field of the data set; "
            f"fields: {', '.join(sorted(present))}"
        )
    chosen = [split_by] if split_by else [f for f in AUTO_SPLITS if f in present][:1]
    if "distribution" in present and "distribution" not in chosen:
        chosen.append("distribution")  # the paper's in- vs out-of-distribution split
    return chosen


def _run(config: EvalConfig) -> None:
    import asyncio
    import os

    from rich.console import Console

    from memento_graph.errors import MementoError
    from memento_graph.eval.datasets import load_dataset
    from memento_graph.eval.harness import finished
    from memento_graph.eval.report import (
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
    }
    manifest = open_manifest(Path(config.out), settings)
    done = finished(config, ResultsLog(Path(config.out)))
    records = asyncio.run(_evaluate(config, items, manifest["run_id"], done))
    summary = summarize(records, splits, settings)
    console = Console()
    console.print(summary_table(summary))
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


async def _evaluate(
    config: EvalConfig, items: list[EvalItem], run_id: str, done: dict[str, Any]
) -> list[dict[str, Any]]:
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
        with progress:
            return await run_eval(
                config, items, pool, run_id=run_id, judge=judge, on_record=progress.update
            )


app = typer.Typer(help="Evaluate the agent on a data set.")
app.command("eval")(eval_command)

if __name__ == "__main__":
    app()
