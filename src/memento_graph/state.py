"""Graph state: the task (s_T), the retrieved cases, the plan (a_T) as a DAG of subtasks, results.

The records the nodes share (a plan, a subtask, its result, a retrieved case) and the helpers that
read them from the state live here, so no node imports from another.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from typing_extensions import TypedDict

Status = Literal["planning", "executing", "answered", "failed", "exhausted", "rejected", "done"]
"""Where the loop is: planning (cases retrieved), executing (a plan to run), answered (the planner
gave the final answer), failed (no usable plan), exhausted (planning cycles ran out), rejected (the
person rejected the plan; the run ends), done (answer written, reward judged)."""

SubtaskStatus = Literal["done", "failed", "skipped"]
"""How a subtask ended: done, failed (a model error), skipped (a dependency did not finish)."""

ThreadStatus = Literal["running", "done", "failed", "interrupted", "paused", "rejected"]
"""How a thread stands (the thread index, `memento threads`): paused waits for a plan approval,
interrupted was cut short (resumable)."""


def merge(left: dict | None, right: dict | None) -> dict:
    """Merge keyed updates (parallel writes never clash); a key updated to None is removed."""
    return {k: v for k, v in {**(left or {}), **(right or {})}.items() if v is not None}


def extend(left: list | None, right: list | None) -> list:
    """Append list updates."""
    return (left or []) + (right or [])


def add_counts(left: dict[str, int] | None, right: dict[str, int] | None) -> dict[str, int]:
    """Sum token counters."""
    out = dict(left or {})
    for key, value in (right or {}).items():
        out[key] = out.get(key, 0) + value
    return out


class RetrievedCase(TypedDict):
    """A past case as shown to the planner (memory/core.py `Memory.retrieve`), best first."""

    id: str
    task: str
    plan: str
    """The case's plan as JSON, `{"plan": [{id, description, depends_on}]}`."""
    answer: str | None
    reward: float
    score: float | None
    similarity: float | None
    status: str
    lesson: str | None
    rank: int
    """Its number in the planner's prompt (1 = best)."""
    label: Literal["positive", "negative"]
    rationale: str | None
    """The judge's reason (None for imported cases)."""


class Subtask(TypedDict):
    """One subtask of a plan, keyed `<cycle>.<id>`; its dependencies are keys too."""

    key: str
    id: int
    cycle: int
    description: str
    tools: list[str]
    """The tools the planner named for it (the executor is offered those)."""
    depends_on: list[str]


class SubtaskResult(TypedDict):
    """What a subtask produced."""

    status: SubtaskStatus
    output: str
    tool_calls: int
    no_tool_call: NotRequired[bool]
    """True when the planner named tools and none was called."""


class ExecutedSubtask(SubtaskResult):
    """A subtask's result with its description (what the planner sees when it replans)."""

    description: str


class Plan(TypedDict):
    """One plan, as written by the planner (or edited by a person)."""

    cycle: int
    thought: str
    subtasks: list[Subtask]
    followed: NotRequired[list[str]]
    """Ids of the shown cases the planner said it followed."""
    avoided: NotRequired[list[str]]
    """Ids of the shown cases whose mistakes it said it avoided."""
    salvaged: NotRequired[str]
    """What was mended when the reply failed its checks twice."""


class InputState(TypedDict):
    """What a user gives: the task, attached files, and optionally the ground truth."""

    task: str
    files: NotRequired[list[str]]
    ground_truth: NotRequired[str | None]


class StateUpdate(TypedDict, total=False):
    """What a node returns: any of the episode's fields (reducers merge keyed and list updates)."""

    cases: list[RetrievedCase]
    """Retrieved cases, best first."""
    cycle: int
    """Planning cycles done so far."""
    plans: Annotated[list[Plan], extend]
    """Every plan written, in order."""
    subtasks: Annotated[dict[str, Subtask], merge]
    """Subtasks by key `<cycle>.<id>`."""
    results: Annotated[dict[str, SubtaskResult], merge]
    """Results by subtask key."""
    answer: str | None
    note: str | None
    """Why the answer is best effort, when it is."""
    status: Status
    error: str | None
    reward: float | None
    judge: dict[str, Any]
    case_id: str | None
    tokens: Annotated[dict[str, int], add_counts]


class State(InputState, StateUpdate):
    """The whole state of one episode."""


class Dependency(TypedDict):
    """A finished dependency as an executor sees it."""

    description: str
    output: str


class SubtaskInput(TypedDict):
    """What one executor receives through `Send`."""

    task: str
    subtask: Subtask
    dependencies: list[Dependency]
    files: list[str]


def current_subtasks(state: State) -> list[Subtask]:
    """Return the subtasks of the current cycle's plan."""
    cycle = state.get("cycle", 0)
    return [s for s in (state.get("subtasks") or {}).values() if s["cycle"] == cycle]


def results_so_far(state: State) -> list[ExecutedSubtask]:
    """Return every executed subtask with its result, in plan order."""
    subtasks = state.get("subtasks") or {}
    results = state.get("results") or {}
    return [
        {"description": s["description"], **results[key]}
        for key, s in subtasks.items()
        if key in results
    ]
