"""The planner's reply: a bounded plan schema, its checks, and a salvage of near-valid plans."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated, Any

from langchain_core.utils.json import parse_partial_json
from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    ValidationError,
    create_model,
    model_validator,
)


def clipped(limit: int) -> BeforeValidator:
    """Cut a string to `limit` characters on reading.

    String lengths are bounded here and by `max_tokens`, not by `maxLength` in the JSON schema:
    llama.cpp turns `maxLength` into a grammar that generated 2.9 tokens/s instead of 152
    (SmolLM2-135M, 2 cores), while `maxItems` costs nothing.
    """
    return BeforeValidator(lambda v: v[:limit] if isinstance(v, str) else v)


class SubtaskSpec(BaseModel):
    """One subtask of a plan (bounded, so a small model cannot loop forever)."""

    id: int = Field(ge=0, le=999)
    description: Annotated[str, clipped(300)] = Field(min_length=1)
    tools: list[Annotated[str, clipped(64)]] = Field(default_factory=list, max_length=3)
    depends_on: list[int] = Field(default_factory=list, max_length=6)


class PlannerOutput(BaseModel):
    """The planner's reply: a plan or a final answer.

    The thought comes last, so a small model that rambles in it has already written the plan.
    """

    plan: list[SubtaskSpec] = Field(default_factory=list, max_length=12)
    final_answer: Annotated[str | None, clipped(1000)] = None
    thought: Annotated[str, clipped(500)] = ""

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


@lru_cache(maxsize=16)
def planner_output(max_subtasks: int, tools: tuple[str, ...] = ()) -> type[PlannerOutput]:
    """Return the planner's reply schema: at most `max_subtasks` subtasks naming loaded tools.

    The tool names are an enum of the JSON schema only (a grammar on llama.cpp keeps a small
    model to real names); validation accepts any name, and the executor ignores unknown ones.
    """
    names = {"type": "string", "enum": list(tools)} if tools else {"type": "string"}
    spec = create_model(
        "SubtaskSpec",
        __base__=SubtaskSpec,
        tools=(
            list[Annotated[str, clipped(64)]],
            Field(default_factory=list, max_length=3, json_schema_extra={"items": names}),
        ),
    )
    return create_model(
        "PlannerOutput",
        __base__=PlannerOutput,
        plan=(list[spec], Field(default_factory=list, max_length=max_subtasks)),  # type: ignore[valid-type]
    )


def _check_acyclic(graph: dict[int, list[int]]) -> None:
    done: set[int] = set()
    while len(done) < len(graph):
        ready = [n for n, deps in graph.items() if n not in done and set(deps) <= done]
        if not ready:
            raise ValueError("the dependencies of the plan form a cycle")
        done.update(ready)


def salvage_plan(text: str, schema: type[PlannerOutput]) -> tuple[PlannerOutput, str] | None:
    """Make a usable plan of a reply that failed its checks twice, or None when none can be made.

    Only what has one sensible reading is mended: a reply cut at the length limit keeps the
    subtasks it wrote in full (the last, being written, is dropped unless it is the only one;
    a string cut short is kept as cut), duplicate subtask ids are renumbered,
    dependencies on itself or on unknown ids are dropped, and a cycle drops every dependency.
    Returns the plan and what was mended.
    """
    text = text.strip().strip("`").removeprefix("json")
    mended: list[str] = []
    try:
        data = json.loads(text)
    except ValueError:  # cut at the length limit: keep the subtasks written in full
        try:
            data = parse_partial_json(text)
        except ValueError:  # not JSON at all
            return None
        if isinstance(data, dict) and len(data.get("plan") or []) > 1:
            data["plan"] = data["plan"][:-1]
        mended.append("kept the subtasks written before the reply was cut")
    try:
        steps = [s for s in data.get("plan") or [] if isinstance(s, dict) and s.get("description")]
    except AttributeError:
        return None
    if not steps:
        return None
    ids: list[Any] = [s.get("id") for s in steps]
    if len(set(map(str, ids))) != len(ids):
        for i, s in enumerate(steps, 1):
            s["id"], s["depends_on"] = i, []
        mended.append("renumbered duplicate ids")
    known = {s["id"] for s in steps}
    for s in steps:
        deps = [d for d in s.get("depends_on") or [] if d in known and d != s["id"]]
        if deps != list(s.get("depends_on") or []):
            mended.append(f"dropped invalid dependencies of subtask {s['id']}")
        s["depends_on"] = deps
    try:
        _check_acyclic({s["id"]: s["depends_on"] for s in steps})
    except (ValueError, TypeError, KeyError):
        for s in steps:
            s["depends_on"] = []
        mended.append("dropped cyclic dependencies")
    try:
        plan = schema.model_validate({"plan": steps, "thought": str(data.get("thought") or "")})
    except ValidationError:
        return None
    return plan, "; ".join(mended) or "accepted as is"
