"""Live progress and summaries on the terminal (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table


class Progress:
    """Print each node's progress as the graph streams its updates."""

    def __init__(self, console: Console) -> None:
        """Write to `console`."""
        self.console = console

    def on_event(self, node: str, update: dict[str, Any]) -> None:
        """Show one node's update."""
        say = self.console.print
        if node == "thread":
            say(f"[bold]thread[/] {update['thread_id']}")
        elif node == "retrieve_cases":
            cases = update.get("cases") or []
            pos = sum(c.get("label") == "positive" for c in cases)
            say(
                f"[cyan]retrieve_cases[/] {len(cases)} cases ({pos} positive, {len(cases) - pos} negative)"
            )
        elif node == "plan":
            self._plan(update)
        elif node == "execute_with_tools":
            for key, r in (update.get("results") or {}).items():
                mark = "[green]done[/]" if r["status"] == "done" else f"[red]{r['status']}[/]"
                say(
                    f"[cyan]subtask {key}[/] {mark} ({r['tool_calls']} tool calls): {_short(r['output'])}"
                )
        elif node == "dispatch_subtask":
            for key, r in (update.get("results") or {}).items():
                say(f"[cyan]subtask {key}[/] [yellow]skipped[/]: {r['output']}")
        elif node == "synthesize" and update.get("note"):
            say(f"[cyan]synthesize[/] {update['note']}")
        elif node == "write_memory":
            judge = update.get("judge") or {}
            say(
                f"[cyan]write_memory[/] reward {update.get('reward')} ({judge.get('source')})"
                + (f", case {update['case_id']}" if update.get("case_id") else "")
            )
        elif node == "__interrupt__":
            say("[yellow]paused[/]: waiting for plan approval")

    def _plan(self, update: dict[str, Any]) -> None:
        say = self.console.print
        if update.get("status") == "failed":
            say(f"[cyan]plan[/] [red]failed[/]: {update.get('error')}")
        elif update.get("status") == "answered":
            say(f"[cyan]plan[/] final answer ready (cycle {update.get('cycle')})")
        elif update.get("status") == "exhausted":
            say(f"[cyan]plan[/] {update.get('note')}")
        for p in update.get("plans") or []:
            say(plan_table(p))


def plan_table(plan: dict[str, Any]) -> Table:
    """Render one plan (cycle, subtasks with dependencies) as a table."""
    table = Table("subtask", "description", "after", title=f"plan, cycle {plan['cycle']}")
    for s in plan["subtasks"]:
        table.add_row(s["key"], s["description"], ", ".join(s["depends_on"]) or "-")
    return table


def _short(text: str, n: int = 100) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def show_outcome(console: Console, outcome: Any) -> None:
    """Print the answer, reward and thread id of a finished run."""
    if outcome.answer is not None:
        title = f"answer · thread {outcome.thread_id}"
        body = outcome.answer + (f"\n[dim]({outcome.note})[/]" if outcome.note else "")
        console.print(Panel(body, title=title))
    if outcome.reward is not None:
        console.print(f"reward {outcome.reward} · case {outcome.case_id or '-'}")
    if outcome.status == "rejected":
        console.print(f"thread {outcome.thread_id}: {outcome.note}")
    if outcome.status in ("paused", "interrupted"):
        console.print(
            f"thread {outcome.thread_id} is {outcome.status}: `memento resume {outcome.thread_id}`"
        )


def show_thread(console: Console, row: dict[str, Any], values: dict[str, Any]) -> None:
    """Print everything about one thread."""
    console.print(f"[bold]thread[/] {row['thread_id']} · {row['status']} · {row['started_at']}")
    console.print(f"[bold]task[/] {row['task']}")
    if row.get("error"):
        console.print(f"[bold]error[/] {row['error']}")
    cases = values.get("cases") or []
    if cases:
        table = Table("case", "label", "score", "task", title="retrieved cases")
        for c in cases:
            table.add_row(
                c["id"], c.get("label", ""), f"{c.get('score', 0):.3f}", _short(c["task"], 60)
            )
        console.print(table)
    for p in values.get("plans") or []:
        console.print(plan_table(p))
    results = values.get("results") or {}
    if results:
        table = Table("subtask", "status", "tool calls", "result", title="subtasks")
        for key, r in results.items():
            table.add_row(key, r["status"], str(r["tool_calls"]), _short(r["output"], 80))
        console.print(table)
    if values.get("answer") is not None:
        console.print(Panel(str(values["answer"]), title="answer"))
    if values.get("reward") is not None:
        judge = values.get("judge") or {}
        console.print(
            f"reward {values['reward']} ({judge.get('source')}: {judge.get('rationale')})"
        )
