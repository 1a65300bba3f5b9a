"""`memento cases ...`: inspect and curate the case bank (list, show, search, lifecycle, export/import)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from memento_graph.errors import MementoError

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from memento_graph.memory import Memory
    from memento_graph.memory.schema import CaseRecord

app = typer.Typer(help="Inspect and curate the case bank.", no_args_is_help=True)
console = Console()
User = Annotated[
    str | None, typer.Option("--user", help="Namespace (default: MEMENTO_USER or 'default').")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
MAX_PAGE = 10_000
STATUSES = ("active", "quarantined", "retired")


def _memory(user: str | None) -> Memory:
    from memento_graph.context import Context
    from memento_graph.memory import open_memory

    return open_memory(Context(user=user) if user is not None else Context())


def _case(memory: Memory, case_id: str) -> CaseRecord:
    case = memory.get_case(case_id)
    if case is None:
        raise MementoError(f"no case {case_id} (user {memory.user})")
    return case


def _short(text: Any, width: int = 60) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(cases: Sequence[Mapping[str, Any]], score: bool = False) -> Table:
    table = Table("id", "status", "reward", "used", *(["score"] if score else []), "task")
    for c in cases:
        used = str(c.get("usage", {}).get("times_retrieved", 0))
        extra = [f"{c['score']:.3f}"] if score else []
        table.add_row(c["id"], c["status"], f"{c['reward']:g}", used, *extra, _short(c["task"]))
    return table


def _print(data: Any, as_json: bool, table: Table | None = None) -> None:
    if as_json or table is None:
        typer.echo(json.dumps(data, indent=1, default=str, ensure_ascii=False))
    else:
        console.print(table)


@app.command("list")
def list_cases(
    status: Annotated[str | None, typer.Option(help="active, quarantined or retired.")] = None,
    limit: Annotated[int, typer.Option(help="Cases per page.")] = 50,
    offset: Annotated[int, typer.Option(help="Skip this many of the newest (the next page).")] = 0,
    user: User = None,
    as_json: AsJson = False,
) -> None:
    """List one page of cases, the most recently stored first."""
    if status and status not in STATUSES:
        raise MementoError(f"unknown status {status!r}: use one of {', '.join(STATUSES)}")
    if not (0 <= limit <= MAX_PAGE and 0 <= offset <= 10**12):
        raise MementoError(f"--limit and --offset must be 0 or more (--limit at most {MAX_PAGE})")
    memory = _memory(user)
    cases = memory.bank.page(status=status, limit=limit, offset=offset)
    usage = memory.store.usage([c["id"] for c in cases])
    for case in cases:
        case["usage"] = usage[case["id"]]
    _print(cases, as_json, _table(cases))


@app.command()
def show(case_id: str, user: User = None) -> None:
    """Show one case in full: plan, answer, judge, provenance, usage."""
    typer.echo(json.dumps(_case(_memory(user), case_id), indent=1, default=str, ensure_ascii=False))


@app.command()
def search(
    query: str,
    k: Annotated[int, typer.Option("-k", help="How many cases.")] = 5,
    user: User = None,
    as_json: AsJson = False,
) -> None:
    """Find the cases (any status) whose tasks are most similar to QUERY."""
    if not 1 <= k <= MAX_PAGE:
        raise MementoError(f"-k must be between 1 and {MAX_PAGE}, got {k}")
    hits = _memory(user).search(query, k)
    _print(hits, as_json, _table(hits, score=True))


@app.command()
def delete(
    case_id: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
    user: User = None,
) -> None:
    """Delete a case for good (quarantine keeps it restorable)."""
    memory = _memory(user)
    _case(memory, case_id)
    if not yes and not typer.confirm(f"Delete case {case_id} for good?"):
        raise MementoError("not deleted")
    memory.delete_case(case_id)
    typer.echo(f"deleted {case_id}")


@app.command()
def quarantine(
    case_id: str,
    reason: Annotated[str, typer.Option(help="Why.")] = "by hand",
    user: User = None,
) -> None:
    """Stop retrieving a case (still inspectable and restorable)."""
    _set_status(user, case_id, "quarantined", reason)


@app.command()
def restore(case_id: str, user: User = None) -> None:
    """Make a quarantined or retired case active again."""
    _set_status(user, case_id, "active", "restored")


def _set_status(user: str | None, case_id: str, status: str, reason: str) -> None:
    from memento_graph.memory.lifecycle import set_status

    memory = _memory(user)
    _case(memory, case_id)
    with memory.lock:
        set_status(memory.bank, case_id, status, reason)
    typer.echo(f"{case_id}: {status}")


@app.command()
def rollback(
    since: Annotated[str, typer.Option("--since", help="ISO time, e.g. 2025-06-01T12:00 (UTC).")],
    user: User = None,
) -> None:
    """Retire every case written at or after a time (restorable)."""
    from memento_graph.memory.lifecycle import rollback as retire_since
    from memento_graph.memory.schema import to_timestamp

    try:
        ok = math.isfinite(to_timestamp(since))
    except (ValueError, OverflowError):
        ok = False
    if not ok:
        raise MementoError(
            f"--since {since[:80]!r} is not a time: use ISO 8601 (2025-01-31T12:00) or a Unix timestamp"
        )
    memory = _memory(user)
    with memory.lock:
        ids = retire_since(memory.bank, since)
    typer.echo(f"retired {len(ids)} case(s) written since {since}")


@app.command()
def dedupe(
    threshold: Annotated[
        float | None, typer.Option(help="Cosine at or above which tasks are the same.")
    ] = None,
    user: User = None,
) -> None:
    """Merge near-duplicate active cases: keep the better, retire the other."""
    from memento_graph.memory.lifecycle import dedupe as merge

    if threshold is not None and not 0 < threshold <= 1:  # also refuses nan
        raise MementoError(f"--threshold must be above 0 and at most 1, got {threshold}")
    memory = _memory(user)
    with memory.lock:
        pairs = merge(memory.bank, memory.store, threshold or memory.near_duplicate)
    for kept, retired in pairs:
        typer.echo(f"{retired} -> merged into {kept}")
    typer.echo(f"merged {len(pairs)} near-duplicate case(s)")


@app.command("export")
def export(
    file: Path,
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE.")] = False,
    user: User = None,
) -> None:
    """Write the user's cases to a JSONL file (manifest: schema version, embedder)."""
    from memento_graph.memory.portability import export_cases

    if file.is_dir():
        raise MementoError(f"{file} is a folder: give the path of the JSONL file to write")
    count = export_cases(_memory(user), file, force=force)
    typer.echo(f"exported {count} case(s) to {file}")


@app.command("import")
def import_(file: Path, user: User = None) -> None:
    """Import cases: our JSONL, or the original Memento {case, plan, case_label} / {question, plan, reward}."""
    from memento_graph.memory.portability import import_cases

    result = import_cases(_memory(user), file)
    typer.echo(
        f"imported {result['imported']} case(s) ({result['format']} format), "
        f"skipped {result['skipped']} already present, re-embedded {result['re_embedded']}"
    )


@app.command()
def stats(
    user: User = None,
    as_json: AsJson = False,
    recount: Annotated[
        bool, typer.Option("--recount", help="Rebuild the case index from the case bank first.")
    ] = False,
) -> None:
    """Show counts by status and label, and the most and least useful cases."""
    from memento_graph.memory.stats import case_stats

    data = case_stats(_memory(user), recount=recount)
    if as_json:
        return _print(data, True)
    console.print(_summary(data))
    if not data["most_useful"]:
        console.print("no usage yet: no case has been retrieved for a task")
        return None
    for key, title in (("most_useful", "Most useful"), ("least_useful", "Least useful")):
        table = Table("id", "status", "used", "mean reward", "usefulness", "task", title=title)
        for c in data[key]:
            mean = "-" if c["mean_reward"] is None else f"{c['mean_reward']:.2f}"
            table.add_row(c["id"], c["status"], str(c["times_retrieved"]), mean,
                          f"{c['usefulness']:.2f}", _short(c["task"], 50))  # fmt: skip
        console.print(table)
    return None


def _summary(data: dict[str, Any]) -> Table:
    """Return the counts of `cases stats` as a two-column table."""

    def counts(found: dict[str, int], keys: tuple[str, ...]) -> str:
        return ", ".join(f"{found.get(k, 0)} {k}" for k in keys)

    def mean(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    table = Table(show_header=False, title=f"{data['total']} case(s) for user {data['user']}")
    rows = [
        ("embedder", data["embedder"]),
        ("status", counts(data["by_status"], STATUSES)),
        ("on trial", str(data["on_trial"])),
        ("label", counts(data["by_label"], ("positive", "negative"))),
        ("mean reward of cases", mean(data["mean_reward"])),
        ("mean reward of episodes", mean(data["episodes_mean_reward"])),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table
