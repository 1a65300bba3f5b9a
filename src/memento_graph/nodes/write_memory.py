"""write_memory: judge the reward and write the case, so the next similar task goes better."""

from __future__ import annotations

import asyncio
import json
from typing import Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from memento_graph.context import Context
from memento_graph.judge import case_problem, judge_reward
from memento_graph.lesson import distil_lesson
from memento_graph.resources import resources_of
from memento_graph.state import Plan, State, StateUpdate, add_counts


class _Episode(TypedDict):
    """What the memory records of every episode (its reward apart: unknown for some)."""

    thread_id: str
    task: str
    plan: str
    answer: str | None
    judge: dict[str, Any]
    policy: str
    models: dict[str, str]
    status: str
    tokens: dict[str, int] | None


def plan_json(state: State) -> str:
    """Return the episode's plans as the case's action (a_T), in the original `{"plan": [...]}` form."""
    steps = [
        {
            "id": s["id"],
            "description": s["description"],
            "depends_on": [int(d.split(".")[1]) for d in s["depends_on"]],
        }
        for p in (state.get("plans") or [])[:1]
        for s in p["subtasks"]
    ]
    return json.dumps({"plan": steps}, ensure_ascii=False)


async def write_memory(
    state: State, runtime: Runtime[Context], config: RunnableConfig
) -> StateUpdate:
    """Judge the reward, then write (or update) the case and the episode, unless memory is off.

    An episode with no executed plan, a failed planning or no finished subtask, or whose reward
    is unknown (an unusable judge reply), is recorded without a case: it is never offered to
    later tasks, and `memento feedback` can still give it a reward. A case gets a lesson when
    `lessons` is on and the model gives one.
    """
    ctx = runtime.context
    thread_id = str(config["configurable"].get("thread_id", ""))
    memory = None
    if ctx.policy != "none":
        memory = await resources_of(config).memory(ctx)
        recorded = await asyncio.to_thread(memory.episode, thread_id)
        if recorded is not None:  # recorded before a kill cut this node short: judged already
            return _as_recorded(state, recorded)
    reward, judge, tokens = await judge_reward(state, ctx)
    problem = case_problem(state) or (None if reward is not None else "reward unknown")
    if problem:
        judge = {**judge, "no_case": problem}
    update: StateUpdate = {"reward": reward, "judge": judge, "tokens": tokens, "case_id": None}
    if memory is None:
        return update
    episode: _Episode = {
        "thread_id": thread_id,
        "task": state["task"],
        "plan": plan_json(state),
        "answer": state.get("answer"),
        "judge": judge,
        "policy": ctx.policy,
        "models": {
            "planner": ctx.planner_model,
            "executor": ctx.executor_model,
            "judge": ctx.judge_model,
        },
        "status": "done",
        "tokens": state.get("tokens"),
    }
    if problem:
        await asyncio.to_thread(lambda: memory.record_episode(**episode, reward=reward))
        return update
    assert reward is not None  # an unknown reward is a problem (above)
    lesson = None
    if ctx.lessons:
        lesson, spent = await distil_lesson(state, episode["plan"], reward, judge, ctx)
        update["tokens"] = add_counts(tokens, spent)
    retrieved = [dict(c) for c in state.get("cases") or []]  # plain dicts, as the memory takes
    plans = state.get("plans") or []
    first = plans[0] if plans else Plan(cycle=0, thought="", subtasks=[])  # the case's plan
    attribution = {"followed": first.get("followed") or [], "avoided": first.get("avoided") or []}
    case = await asyncio.to_thread(
        lambda: memory.complete_episode(
            **episode, reward=reward, retrieved=retrieved, attribution=attribution, lesson=lesson
        )
    )
    return {**update, "case_id": case.get("id")}


def _as_recorded(state: State, episode: dict[str, Any]) -> StateUpdate:
    """Return write_memory's update from the episode an earlier, killed attempt recorded.

    The episode (and its case) were stored but the node's result was not checkpointed: the judge
    is not asked again (its verdict could differ from the stored one), nothing is written twice.
    """
    judge = {
        "source": episode.get("judge_source"),
        "model": episode.get("judge_model"),
        "rationale": episode.get("judge_rationale"),
        "confidence": episode.get("reward_confidence"),
    }
    reward = episode.get("reward")
    problem = case_problem(state) or (None if reward is not None else "reward unknown")
    if problem:
        judge["no_case"] = problem
    return {"reward": reward, "judge": judge, "tokens": {}, "case_id": episode.get("case_id")}
