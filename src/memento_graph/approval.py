"""Plan approval on the terminal: show the paused plan, ask approve / edit / reject."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from memento_graph.errors import MementoError


def read_plan(text: str) -> list[dict[str, Any]]:
    """Read an edited plan: JSON (a list of subtasks or {"plan": [...]}) or a path to such a file."""
    where = "the edited plan"
    if not text.strip().startswith(("[", "{")):  # a path
        path = Path(text.strip()).expanduser()
        if not path.is_file():
            raise MementoError(f"the edited plan {text.strip()[:200]} is not a JSON file")
        where = f"the edited plan {path}"
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise MementoError(f"{where} is not readable text: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise MementoError(f"{where} is not JSON: {exc}") from None
    plan = data.get("plan") if isinstance(data, dict) else data
    if not isinstance(plan, list):
        raise MementoError('the edited plan must be a list of {"id", "description", "depends_on"}')
    return plan


def decision_from_options(decision: str | None, plan_file: str | None, reason: str | None) -> Any:
    """Turn `memento resume` options into a resume value (None when none was given)."""
    if plan_file:
        return {"action": "edit", "plan": read_plan(plan_file)}
    if decision is None:
        return None
    if decision not in ("approve", "reject"):
        raise MementoError(f"--decision must be approve or reject, not {decision!r}")
    return {"action": decision, "reason": reason}


def ask(console: Console, request: dict[str, Any]) -> Any:
    """Show the plan and ask; return the resume value, or None when there is no one to ask."""
    from memento_graph.progress import plan_table

    keyed = [
        {**s, "key": str(s["id"]), "depends_on": [str(d) for d in s["depends_on"]]}
        for s in request["plan"]
    ]
    console.print(plan_table({"cycle": request["cycle"], "subtasks": keyed}))
    if request.get("error"):
        console.print(f"[red]{request['error']}[/]")
    try:
        choice = click.prompt(
            "approve, edit or reject?",
            default="approve",
            err=True,
            type=click.Choice(["approve", "edit", "reject", "a", "e", "r"]),
        )
        if choice in ("edit", "e"):
            text = click.prompt(
                "new plan: JSON list of {id, description, depends_on}, or a file", err=True
            )
            try:
                return {"action": "edit", "plan": read_plan(text)}
            except MementoError as exc:
                console.print(f"[red]{exc}[/]")
                return ask(console, request)
        if choice in ("reject", "r"):
            reason = click.prompt("reason", default="", err=True, show_default=False)
            return {"action": "reject", "reason": reason or None}
        return {"action": "approve"}
    except (click.Abort, EOFError):
        return None
