"""write_memory: judge the reward and write the case, so the next similar task goes better."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.config import get_config
from langgraph.runtime import Runtime
from pydantic import BaseModel

from memento_graph import prompts
from memento_graph.context import Context
from memento_graph.llm import ask_json, chat_model
from memento_graph.scoring import exact_match, split_ground_truth
from memento_graph.state import State


class Verdict(BaseModel):
    """The LLM judge's reply."""

    rationale: str
    verdict: Literal["correct", "incorrect"]


async def judge_reward(state: State, ctx: Context) -> tuple[float, dict[str, Any], dict[str, int]]:
    """Return (reward, judge record, tokens): ground truth when given, else the LLM judge."""
    answer = state.get("answer") or ""
    truth = state.get("ground_truth")
    if truth:
        ok = exact_match(answer, truth)
        accepted = " | ".join(split_ground_truth(truth))
        rationale = f"{'matches' if ok else 'does not match'} the ground truth ({accepted})"
        return float(ok), {"source": "ground_truth", "model": None, "rationale": rationale}, {}
    request = f"Task: {state['task']}\n\nAnswer: {answer}"
    messages = [SystemMessage(content=prompts.JUDGE_SYSTEM), HumanMessage(content=request)]
    llm = chat_model(ctx.judge_model, ctx.model_timeout)
    verdict, error, tokens = await ask_json(llm, messages, Verdict)
    if verdict is None:
        record = {
            "source": "llm_judge",
            "model": ctx.judge_model,
            "rationale": f"judge reply malformed, counted as failure: {error}",
        }
        return 0.0, record, tokens
    record = {"source": "llm_judge", "model": ctx.judge_model, "rationale": verdict.rationale}
    return float(verdict.verdict == "correct"), record, tokens


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


async def write_memory(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Judge the reward, then write (or update) the case and the episode, unless memory is off."""
    ctx = runtime.context
    reward, judge, tokens = await judge_reward(state, ctx)
    update: dict[str, Any] = {"reward": reward, "judge": judge, "tokens": tokens, "case_id": None}
    if ctx.policy == "none":
        return update
    from memento_graph.memory import open_memory

    thread_id = str(get_config()["configurable"].get("thread_id", ""))
    memory = await asyncio.to_thread(open_memory, ctx)
    case = await asyncio.to_thread(
        lambda: memory.complete_episode(
            thread_id=thread_id,
            task=state["task"],
            plan=plan_json(state),
            answer=state.get("answer"),
            reward=reward,
            judge=judge,
            retrieved=state.get("cases") or [],
            policy=ctx.policy,
            models={
                "planner": ctx.planner_model,
                "executor": ctx.executor_model,
                "judge": ctx.judge_model,
            },
            status="done",
            tokens=state.get("tokens"),
        )
    )
    return {**update, "case_id": case.get("id")}
