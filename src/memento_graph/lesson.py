"""The lesson of an episode: one or two sentences distilled by the planner model at write time.

ReasoningBank style: a success yields the strategy that worked, a failure the pitfall to avoid. The
call is bounded by `lesson_max_tokens` and never costs the episode: a cut, malformed or failed reply
(after one repair) leaves the case without a lesson.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from memento_graph import prompts
from memento_graph.context import Context
from memento_graph.llm import ask_json, chat_model
from memento_graph.nodes.plan_schema import clipped
from memento_graph.state import State

log = logging.getLogger(__name__)
MIN_WORDS = 4  # a shorter "lesson" ("be careful", "it worked") says nothing


class LessonReply(BaseModel):
    """The lesson writer's reply."""

    lesson: Annotated[str, clipped(400)] = Field(min_length=1)


async def distil_lesson(
    state: State, plan: str, reward: float, judge: dict[str, Any], ctx: Context
) -> tuple[str | None, dict[str, int]]:
    """Return (the episode's lesson, or None when the model gave none usable; tokens spent)."""
    verdict = "correct" if reward >= 0.5 else "wrong"
    if judge.get("rationale"):
        verdict += f" ({judge['rationale']})"
    results = list((state.get("results") or {}).values())
    request = prompts.lesson_request(
        state["task"], plan, results, state.get("answer") or "", verdict
    )
    messages = [SystemMessage(content=prompts.LESSON_SYSTEM), HumanMessage(content=request)]
    llm = chat_model(ctx.planner_model, ctx.model_timeout, ctx.lesson_max_tokens)
    try:
        reply, error, tokens = await ask_json(llm, messages, LessonReply)
    except Exception as exc:  # noqa: BLE001 - an endpoint error costs the lesson, not the episode
        log.warning("no lesson: the call failed (%s: %s)", type(exc).__name__, exc)
        return None, {}
    lesson = " ".join(reply.lesson.split()) if reply is not None else ""
    if len(lesson.split()) < MIN_WORDS:
        log.info("no lesson: %s", error or f"too short to say anything: {lesson!r}")
        return None, tokens
    return lesson, tokens
