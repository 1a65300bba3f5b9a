"""Progress of `memento eval`: a live bar on a terminal, one plain line per item otherwise."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from memento_graph.eval.harness import FAILED


class Tally:
    """Each arm's running score over the item-runs that ran, and its failures."""

    def __init__(self, metric: str, arms: list[str], records: Any = ()) -> None:
        """Start from the records finished earlier."""
        self.metric = metric
        self.sums: dict[str, list[float]] = {arm: [0.0, 0, 0] for arm in arms}
        for rec in records:
            self.add(rec)

    def add(self, rec: dict[str, Any]) -> None:
        """Count one record: its score, or a failure."""
        sums = self.sums.get(rec["arm"])
        if sums is None:
            return
        value = rec["scores"].get(self.metric)
        if rec.get("status") == FAILED:
            sums[2] += 1
        elif value is not None:
            sums[0] += value
            sums[1] += 1

    def text(self) -> str:
        """Return e.g. `em: memory 50.0% (1 failed) | control -`."""
        parts = []
        for arm, (total, n, fails) in self.sums.items():
            score = f"{total / n * 100:.1f}%" if n else "-"
            parts.append(f"{arm} {score}" + (f" ({int(fails)} failed)" if fails else ""))
        return f"{self.metric}: " + " | ".join(parts)


class LiveBar:
    """A rich progress bar whose description shows the tally (for a terminal)."""

    def __init__(self, console: Console, tally: Tally, total: int, completed: int) -> None:
        """Prepare the bar (shown from `__enter__`)."""
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.tally = tally
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.task = self.bar.add_task(tally.text(), total=total, completed=completed)

    def update(self, record: dict[str, Any]) -> None:
        """Count one finished record."""
        self.tally.add(record)
        self.bar.update(self.task, advance=1, description=self.tally.text())

    def __enter__(self) -> LiveBar:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()


class PlainLines:
    """One line per finished item-run, for logs and pipes (stdout is not a terminal)."""

    def __init__(
        self, console: Console, tally: Tally, total: int, completed: int, per_pass: int
    ) -> None:
        """Print where the eval starts from."""
        self.console, self.tally = console, tally
        self.total, self.done, self.per_pass = total, completed, per_pass
        self._say(f"eval: {total - completed} item-runs to do, {completed} done earlier")

    def _say(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    def update(self, rec: dict[str, Any]) -> None:
        """Print one finished record: arm, seed, iteration, item, status, score, seconds."""
        self.tally.add(rec)
        self.done += 1
        value = rec["scores"].get(self.tally.metric)
        score = "-" if value is None else f"{value:g}"
        status = rec["status"]
        if status == FAILED and rec.get("error"):
            status += f" ({_short(str(rec['error']))})"
        self._say(
            f"[{self.done}/{self.total}] {rec['arm']} seed {rec['seed']} iteration "
            f"{rec['iteration']} item {rec['position'] + 1}/{self.per_pass}: {status}, "
            f"{self.tally.metric} {score}, {rec['seconds']:.1f} s · {self.tally.text()}"
        )

    def __enter__(self) -> PlainLines:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def _short(text: str, n: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def eval_progress(
    console: Console, tally: Tally, total: int, completed: int, per_pass: int
) -> LiveBar | PlainLines:
    """Return the live bar when `console` is a terminal, plain lines otherwise."""
    if console.is_terminal:
        return LiveBar(console, tally, total, completed)
    return PlainLines(console, tally, total, completed, per_pass)
