"""approve_plan: pause after planning so a person can approve, edit or reject the plan."""

from __future__ import annotations

from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt
from pydantic import ValidationError

from memento_graph.context import Context
from memento_graph.nodes.plan_schema import PlannerOutput, subtask_records
from memento_graph.state import Plan, State, Subtask, current_subtasks


def parse_decision(decision: Any) -> tuple[str, Any]:
    """Read a resume value: "approve", "reject", {"action": ..., "plan": [...], "reason": ...}."""
    if isinstance(decision, str):
        return decision.strip().lower(), None
    if isinstance(decision, dict):
        action = str(decision.get("action", "")).strip().lower()
        return action, decision.get("plan") if action == "edit" else decision.get("reason")
    return "", None


async def approve_plan(
    state: State, runtime: Runtime[Context]
) -> Command[Literal["dispatch_subtask", "__end__"]]:
    """Interrupt with the plan; resume with approve, edit (a new plan) or reject."""
    cycle = state["cycle"]
    shown = [
        {
            "id": s["id"],
            "description": s["description"],
            "depends_on": [int(d.split(".")[1]) for d in s["depends_on"]],
        }
        for s in current_subtasks(state)
    ]
    request: dict[str, Any] = {
        "kind": "plan_approval",
        "task": state["task"],
        "cycle": cycle,
        "plan": shown,
        "actions": ["approve", "edit", "reject"],
    }
    while True:
        action, payload = parse_decision(interrupt(request))
        if action == "approve":
            return Command(goto="dispatch_subtask")
        if action == "reject":
            note = f"plan rejected{': ' + payload if payload else ''}"
            # "__end__" is langgraph's END, spelt out: END is typed `str`, not the Literal above
            return Command(goto="__end__", update={"status": "rejected", "note": note})
        if action == "edit":
            try:
                edited = PlannerOutput(plan=payload or [])
            except ValidationError as exc:
                request = {
                    **request,
                    "error": f"the edited plan is invalid: {exc.errors()[0]['msg']}",
                }
                continue
            subtasks = subtask_records(cycle, edited.plan)
            removed: dict[str, Subtask | None] = {
                s["key"]: None for s in current_subtasks(state) if s["key"] not in subtasks
            }  # a subtask updated to None leaves the state (state.merge)
            record: Plan = {
                "cycle": cycle,
                "thought": "edited by the user",
                "subtasks": list(subtasks.values()),
            }
            return Command(
                goto="dispatch_subtask",
                update={"subtasks": {**subtasks, **removed}, "plans": [record]},
            )
        request = {**request, "error": f"unknown action {action!r}: use approve, edit or reject"}
