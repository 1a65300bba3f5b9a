"""dispatch_subtask: find the subtasks of the current plan that are ready to run."""

from __future__ import annotations

from langgraph.runtime import Runtime
from langgraph.types import Send

from memento_graph.context import Context
from memento_graph.state import (
    State,
    StateUpdate,
    Subtask,
    SubtaskInput,
    SubtaskResult,
    current_subtasks,
)


def ready_subtasks(state: State) -> list[Subtask]:
    """Return pending subtasks whose dependencies are all done."""
    results = state.get("results") or {}
    return [
        s
        for s in current_subtasks(state)
        if s["key"] not in results
        and all(d in results and results[d]["status"] == "done" for d in s["depends_on"])
    ]


def subtask_sends(state: State) -> list[Send]:
    """Return one `Send` to the executor per ready subtask, with its dependencies' results."""
    results = state.get("results") or {}
    subtasks = state.get("subtasks") or {}
    return [
        Send(
            "execute_with_tools",
            SubtaskInput(
                task=state["task"],
                subtask=s,
                dependencies=[
                    {"description": subtasks[d]["description"], "output": results[d]["output"]}
                    for d in s["depends_on"]
                ],
                files=state.get("files") or [],
            ),
        )
        for s in ready_subtasks(state)
    ]


async def dispatch_subtask(state: State, runtime: Runtime[Context]) -> StateUpdate:
    """Mark subtasks that can never run (a dependency failed) as skipped."""
    results = state.get("results") or {}
    skipped: dict[str, SubtaskResult] = {}
    changed = True
    while changed:  # propagate through chains of dependents
        changed = False
        for s in current_subtasks(state):
            if s["key"] in results or s["key"] in skipped:
                continue
            bad = [
                d
                for d in s["depends_on"]
                if d in skipped or (d in results and results[d]["status"] in ("failed", "skipped"))
            ]
            if bad:
                skipped[s["key"]] = {
                    "status": "skipped",
                    "output": f"not run: {bad[0]} failed",
                    "tool_calls": 0,
                }
                changed = True
    return {"results": skipped} if skipped else {}
