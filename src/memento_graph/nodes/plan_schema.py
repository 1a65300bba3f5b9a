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
from pydantic.json_schema import JsonDict

from memento_graph.state import RetrievedCase, Subtask


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


def case_numbers(value: Any) -> Any:
    """Read the numbers of shown cases leniently: unique integers, anything else dropped.

    Unknown numbers are dropped later, against the cases actually shown (`attributed_ids`).
    """
    if value is None:
        return []
    if not isinstance(value, list):
        value = [value]
    out: list[int] = []
    for item in value:
        text = str(item).strip().lstrip("#").removeprefix("Example").strip()
        if text.isdigit() and int(text) not in out:
            out.append(int(text))
    return out[:MAX_NAMED]


MAX_NAMED = 8  # the planner names at most this many shown cases per list


class PlannerOutput(BaseModel):
    """The planner's reply: a plan or a final answer, and which shown cases it followed or avoided.

    The plan comes first, then the attribution (`followed`: the numbers of the shown examples the
    plan follows or adapts; `avoided`: those whose mistakes it avoids), then the thought last, so a
    small model that rambles in it has already written the plan and the attribution.
    """

    plan: list[SubtaskSpec] = Field(default_factory=list, max_length=12)
    final_answer: Annotated[str | None, clipped(1000)] = None
    followed: Annotated[list[int], BeforeValidator(case_numbers)] = Field(
        default_factory=list, max_length=MAX_NAMED
    )
    avoided: Annotated[list[int], BeforeValidator(case_numbers)] = Field(
        default_factory=list, max_length=MAX_NAMED
    )
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
    names: JsonDict = {"type": "string", "enum": list(tools)} if tools else {"type": "string"}
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
        # `spec` is a class made at run time: mypy cannot use it as a type
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
    subtasks it wrote in full (the last, when the cut fell inside the plan, is dropped unless it is
    the only one; a string cut short is kept as cut) and the attribution written, duplicate subtask ids are renumbered,
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
        later = ("final_answer", "followed", "avoided", "thought")  # written after the plan
        if (
            isinstance(data, dict)
            and len(data.get("plan") or []) > 1
            and not set(data) & set(later)
        ):
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
        plan = schema.model_validate(
            {
                "plan": steps,
                "followed": data.get("followed"),
                "avoided": data.get("avoided"),
                "thought": str(data.get("thought") or ""),
            }
        )
    except ValidationError:
        return None
    return plan, "; ".join(mended) or "accepted as is"


def subtask_records(cycle: int, plan: list[SubtaskSpec]) -> dict[str, Subtask]:
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


def attributed_ids(output: PlannerOutput, cases: list[RetrievedCase]) -> dict[str, list[str]]:
    """Map the planner's `followed` / `avoided` numbers to the ids of the cases shown as those numbers.

    Cases are numbered by their rank (as `prompts.format_cases` shows them); numbers no shown case
    carries are ignored, and a case named as both followed and avoided counts as followed.
    """
    by_number = {int(c.get("rank") or i): c["id"] for i, c in enumerate(cases, 1) if c.get("id")}
    followed = [by_number[n] for n in output.followed if n in by_number]
    avoided = [
        by_number[n] for n in output.avoided if n in by_number and by_number[n] not in followed
    ]
    return {"followed": followed, "avoided": avoided}
