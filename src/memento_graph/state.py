"""Graph state: the task (s_T), the retrieved cases, the plan (a_T) as a DAG of subtasks, results."""

from __future__ import annotations

from typing import Annotated, Any, NotRequired

from typing_extensions import TypedDict


def merge(left: dict | None, right: dict | None) -> dict:
    """Merge keyed updates (parallel writes never clash); a key updated to None is removed."""
    return {k: v for k, v in {**(left or {}), **(right or {})}.items() if v is not None}


def extend(left: list | None, right: list | None) -> list:
    """Append list updates."""
    return (left or []) + (right or [])


def add_counts(left: dict | None, right: dict | None) -> dict:
    """Sum token counters."""
    out = dict(left or {})
    for key, value in (right or {}).items():
        out[key] = out.get(key, 0) + value
    return out


class InputState(TypedDict):
    """What a user gives: the task, attached files, and optionally the ground truth."""

    task: str
    files: NotRequired[list[str]]
    ground_truth: NotRequired[str | None]


class State(InputState, total=False):
    """The whole state of one episode."""

    cases: list[dict[str, Any]]
    """Retrieved cases, best first: id, task, plan, reward, score, rank, label."""
    cycle: int
    """Planning cycles done so far."""
    plans: Annotated[list[dict[str, Any]], extend]
    """Every plan written, in order: cycle, subtasks, thought, and the ids of the shown cases the
    planner said it followed and avoided (`followed`, `avoided`)."""
    subtasks: Annotated[dict[str, dict[str, Any]], merge]
    """Subtasks by key `<cycle>.<id>`: key, id, cycle, description, depends_on (keys)."""
    results: Annotated[dict[str, dict[str, Any]], merge]
    """Results by subtask key: status (done, failed, skipped), output, tool_calls."""
    answer: str | None
    note: str | None
    """Why the answer is best effort, when it is."""
    status: str
    """Where the loop is: planning (cases retrieved), executing (a plan to run), answered (the
    planner gave the final answer), failed (no usable plan), exhausted (planning cycles ran out),
    rejected (the person rejected the plan; the run ends), done (answer written, reward judged)."""
    error: str | None
    reward: float | None
    judge: dict[str, Any]
    case_id: str | None
    tokens: Annotated[dict[str, int], add_counts]


class SubtaskInput(TypedDict):
    """What one executor receives through `Send`."""

    task: str
    subtask: dict[str, Any]
    dependencies: list[dict[str, Any]]
    files: list[str]
