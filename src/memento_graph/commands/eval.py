"""`memento eval DATASET`: learning curves over iterations, a no-memory control, 95% CIs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


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
    cases: Annotated[
        Path | None,
        typer.Option(
            help="Case file (any `memento cases import` format) each seed's memory starts from."
        ),
    ] = None,
    exclude_seen: Annotated[
        bool,
        typer.Option("--exclude-seen", help="Leave out the questions already in the --cases bank."),
    ] = False,
    seen_similarity: Annotated[
        float,
        typer.Option(help="A question this similar (cosine) to a case's task counts as seen."),
    ] = 0.8,
) -> None:
    """Evaluate the agent on a data set: accuracy per iteration, gain over a control, CIs."""
    from rich.console import Console

    from memento_graph.errors import MementoError
    from memento_graph.eval.harness import EvalConfig
    from memento_graph.eval.session import evaluate

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
        cases=str(cases) if cases else None,
        exclude_seen=exclude_seen,
        seen_similarity=seen_similarity,
    )
    try:
        evaluate(config)
    except MementoError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        err.print(f"interrupted: finished items are kept; rerun with --out {config.out} to resume")
        raise typer.Exit(130) from None


app = typer.Typer(help="Evaluate the agent on a data set.")
app.command("eval")(eval_command)

if __name__ == "__main__":
    app()
