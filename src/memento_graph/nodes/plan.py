"""plan: the meta-planner writes a DAG of subtasks, or the final answer."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field, create_model, model_validator

from memento_graph import prompts
from memento_graph.catalogue import tool_catalogue
from memento_graph.context import Context
from memento_graph.llm import ask_json, chat_model
from memento_graph.state import State
from memento_graph.toolbox import get_tools


class SubtaskSpec(BaseModel):
    """One subtask of a plan (bounded, so a small model's grammar cannot loop forever)."""

    id: int = Field(ge=0, le=999)
    description: str = Field(min_length=1, max_length=400)
    tools: list[str] = Field(default_factory=list, max_length=4)
    depends_on: list[int] = Field(default_factory=list, max_length=8)


class PlannerOutput(BaseModel):
    """The planner's reply: a plan or a final answer."""

    thought: str = Field(default="", max_length=800)
    plan: list[SubtaskSpec] = Field(default_factory=list, max_length=12)
    final_answer: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _one_of(self) -> PlannerOutput:
        if bool(self.plan) == bool(self.final_answer and self.final_answer.strip()):
            raise ValueError("give exactly one of a non-empty `plan` and a `final_answer`")
        ids = [s.id for s in self.plan]
        if len(ids) != len(set(ids)):
            raise ValueError("subtask ids must be unique")
        for s in self.plan:
            if s.id in s.depends_on:
                raise ValueError(f"subtask {s.id} depends on itself")
            unknown = set(s.depends_on) - set(ids)
            if unknown:
                raise ValueError(f"subtask {s.id} depends on unknown ids {sorted(unknown)}")
        _check_acyclic({s.id: s.depends_on for s in self.plan})
        return self


@lru_cache(maxsize=8)
def planner_output(max_subtasks: int) -> type[PlannerOutput]:
    """Return the planner's reply schema with at most `max_subtasks` subtasks."""
    return create_model(
        "PlannerOutput",
        __base__=PlannerOutput,
        plan=(list[SubtaskSpec], Field(default_factory=list, max_length=max_subtasks)),
    )


def _check_acyclic(graph: dict[int, list[int]]) -> None:
    done: set[int] = set()
    while len(done) < len(graph):
        ready = [n for n, deps in graph.items() if n not in done and set(deps) <= done]
        if not ready:
            raise ValueError("the dependencies of the plan form a cycle")
        done.update(ready)


def subtask_records(cycle: int, plan: list[SubtaskSpec]) -> dict[str, dict[str, Any]]:
    """Key a plan's subtasks by `<cycle>.<id>`, with dependencies as keys."""
    return {
        f"{cycle}.{s.id}": {
            "key": f"{cycle}.{s.id}",
            "id": s.id,
            "cycle": cycle,
            "description": s.description,
            "tools": list(dict.fromkeys(t.strip() for t in s.tools if t.strip())),
            "depends_on": [f"{cycle}.{d}" for d in s.depends_on],
        }
        for s in plan
    }


def results_so_far(state: State) -> list[dict[str, Any]]:
    """Return every executed subtask with its result, in plan order."""
    subtasks = state.get("subtasks") or {}
    results = state.get("results") or {}
    return [
        {"description": s["description"], **results[key]}
        for key, s in subtasks.items()
        if key in results
    ]


async def plan(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Ask the planner for a plan (cycle 1) or, with the results so far, an answer or a new plan."""
    ctx = runtime.context
    cycle = state.get("cycle", 0) + 1
    history = results_so_far(state)
    if cycle > ctx.max_cycles:
        return {"status": "exhausted", "note": f"planning cycles ran out ({ctx.max_cycles})"}
    catalogue = tool_catalogue(get_tools(), ctx.tool_catalogue_tokens) or prompts.NO_TOOLS
    system = prompts.PLANNER_SYSTEM.format(
        date=datetime.now(UTC).date(), max_subtasks=ctx.max_subtasks, tools=catalogue
    )
    messages = [
        SystemMessage(content=system),
        HumanMessage(
            content=prompts.planner_request(
                state["task"], state.get("files") or [], state.get("cases") or [], history
            )
        ),
    ]
    llm = chat_model(ctx.planner_model, ctx.model_timeout, ctx.planner_max_tokens)
    output, error, tokens = await ask_json(llm, messages, planner_output(ctx.max_subtasks))
    if output is None:
        return {
            "cycle": cycle,
            "status": "failed",
            "error": f"the planner's reply was malformed twice: {error}",
            "tokens": tokens,
        }
    if output.final_answer:
        return {
            "cycle": cycle,
            "status": "answered",
            "answer": output.final_answer.strip(),
            "tokens": tokens,
        }
    subtasks = subtask_records(cycle, output.plan)
    record = {"cycle": cycle, "thought": output.thought, "subtasks": list(subtasks.values())}
    return {
        "cycle": cycle,
        "status": "executing",
        "subtasks": subtasks,
        "plans": [record],
        "tokens": tokens,
    }
