"""Live progress and summaries on the terminal (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from memento_graph import live

NO_TOOL = "[yellow]no tool called[/]"
"""Mark of a subtask the planner named tools for that ended with no tool call."""


class Progress:
    """Print each node's progress as the graph streams its updates."""

    def __init__(self, console: Console) -> None:
        """Write to `console`."""
        self.console = console
        self.subtasks: dict[str, dict[str, Any]] = {}

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
                named = self.subtasks.get(key, {}).get("tools") or []
                extra = f", tools named: {escape(', '.join(named))}" if named else ""
                extra += f", {NO_TOOL}" if r.get("no_tool_call") else ""
                say(
                    f"[cyan]subtask {key}[/] {mark} ({r['tool_calls']} tool calls{extra}): "
                    + escape(_short(r["output"]))
                )
        elif node == live.SUBTASK_STARTED:
            say(
                f"[cyan]▸ subtask {escape(str(update['subtask']))} started[/]: "
                + escape(_short(update.get("description", "")))
            )
        elif node == live.TOOL_CALL:
            call = f"{update['tool']}({call_arguments(update.get('args'))})"
            say(f"  ↳ calling {escape(_short(call))} (subtask {escape(str(update['subtask']))})")
        elif node == "dispatch_subtask":
            for key, r in (update.get("results") or {}).items():
                say(f"[cyan]subtask {key}[/] [yellow]skipped[/]: {r['output']}")
        elif node == "synthesize" and update.get("note"):
            say(f"[cyan]synthesize[/] {escape(str(update['note']))}")
        elif node == "write_memory":
            judge = update.get("judge") or {}
            reward = "unknown" if update.get("reward") is None else update["reward"]
            say(
                f"[cyan]write_memory[/] reward {reward} ({judge.get('source')})"
                + (f", case {update['case_id']}" if update.get("case_id") else "")
                + (f", no case: {escape(str(judge['no_case']))}" if judge.get("no_case") else "")
            )
        elif node == "__interrupt__":
            say("[yellow]paused[/]: waiting for plan approval")

    def _plan(self, update: dict[str, Any]) -> None:
        say = self.console.print
        self.subtasks.update(update.get("subtasks") or {})
        if update.get("status") == "failed":
            say(f"[cyan]plan[/] [red]failed[/]: {escape(str(update.get('error')))}")
        elif update.get("status") == "answered":
            say(f"[cyan]plan[/] final answer ready (cycle {update.get('cycle')})")
        elif update.get("status") == "exhausted":
            say(f"[cyan]plan[/] {escape(str(update.get('note')))}")
        for p in update.get("plans") or []:
            say(plan_table(p))


def plan_table(plan: dict[str, Any]) -> Table:
    """Render one plan (cycle, subtasks with dependencies) as a table."""
    tools = any(s.get("tools") for s in plan["subtasks"])
    table = Table("subtask", "description", "after", title=f"plan, cycle {plan['cycle']}")
    if tools:
        table.add_column("tools")
    for s in plan["subtasks"]:
        row = [s["key"], escape(s["description"]), ", ".join(s["depends_on"]) or "-"]
        table.add_row(*row, *([escape(", ".join(s.get("tools") or [])) or "-"] if tools else []))
    return table


def call_arguments(args: Any, each: int = 40) -> str:
    """Return a tool call's arguments as `name=value, ...`, each value cut to `each` characters."""
    if not isinstance(args, dict):
        return _short(repr(args), each)
    return ", ".join(f"{k}={_short(repr(v), each)}" for k, v in args.items())


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
    """Print everything about one thread: cases, plans, subtasks, answer, why, reward, tokens."""
    say = console.print
    say(f"[bold]thread[/] {escape(row['thread_id'])} · {row['status']} · {row['started_at']}")
    say(f"[bold]task[/] {escape(row['task'])}")
    for error in dict.fromkeys(e for e in (row.get("error"), values.get("error")) if e):
        say(f"[bold]error[/] {escape(str(error))}")
    cases = values.get("cases") or []
    if cases:
        table = Table("case", "label", "score", "task", title="retrieved cases")
        for c in cases:
            score = f"{c.get('score', 0):.3f}"
            table.add_row(c["id"], c.get("label", ""), score, escape(_short(c["task"], 60)))
        say(table)
    for p in values.get("plans") or []:
        say(plan_table(p))
    _subtasks(console, values)
    if values.get("answer") is not None:
        say(Panel(escape(str(values["answer"])), title="answer"))
    if values.get("note"):
        say(f"[bold]note[/] {escape(str(values['note']))}")
    _reward(console, values)
    tokens = values.get("tokens") or {}
    if tokens:
        say(f"[bold]tokens[/] input {tokens.get('input', 0)} · output {tokens.get('output', 0)}")


def _subtasks(console: Console, values: dict[str, Any]) -> None:
    """Print the subtask results with the tools the planner named and the no-tool mark."""
    results = values.get("results") or {}
    if not results:
        return
    subtasks = values.get("subtasks") or {}
    table = Table("subtask", "status", "tools named", "tool calls", "result", title="subtasks")
    for key, r in results.items():
        named = ", ".join(subtasks.get(key, {}).get("tools") or []) or "-"
        calls = str(r["tool_calls"]) + (f" {NO_TOOL}" if r.get("no_tool_call") else "")
        table.add_row(key, r["status"], escape(named), calls, escape(_short(r["output"], 80)))
    console.print(table)


def _reward(console: Console, values: dict[str, Any]) -> None:
    """Print the reward ("unknown" when the judge gave none), its source and why no case."""
    judge = values.get("judge") or {}
    if values.get("reward") is None and not judge:
        return
    reward = "unknown" if values.get("reward") is None else values["reward"]
    why = f"{judge.get('source')}: {judge.get('rationale')}" if judge else "no judge record"
    console.print(f"[bold]reward[/] {reward} ({escape(why)})")
    if values.get("case_id"):
        console.print(f"[bold]case[/] {values['case_id']}")
    elif judge.get("no_case"):
        console.print(f"[bold]no case written[/]: {escape(str(judge['no_case']))}")
