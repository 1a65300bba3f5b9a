"""The one LLM judge: the graph's reward and the eval's grading ask it the same way.

One prompt family (prompts.JUDGE_SYSTEM for a task and its answer, prompts.JUDGE_GOLD_SYSTEM when
the accepted answers are known), one reply schema (`JudgeReply`, asked as structured output) and
one check (`ask_judge`). A verdict is usable only when it is one of the two labels with a
rationale that says something (not a bare number or a single word); an unusable verdict is
"unknown", never a guess.

The graph's reward (`judge_reward`) comes from the ground truth when given, else from the judge
asked `judge_samples` times (2 by default): two verdicts that disagree make the reward weigh
little (memory/trust.py). The eval grades each answer once against its gold answers
(eval/metrics.py).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, Literal, NamedTuple

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

from memento_graph import prompts
from memento_graph.context import Context
from memento_graph.llm import ask_json, chat_model
from memento_graph.memory.trust import sample_agreement
from memento_graph.nodes.plan_schema import clipped
from memento_graph.scoring import exact_match, split_ground_truth
from memento_graph.state import State

_BARE = re.compile(r"[\s\d.,:;+\-/%]*")
_ECHO = {"correct", "incorrect", "true", "false", "yes", "no", "right", "wrong"}


class JudgeReply(BaseModel):
    """The LLM judge's reply (the graph's reward and the eval's grading)."""

    rationale: Annotated[str, clipped(800)] = Field(min_length=1)
    verdict: Literal["correct", "incorrect"]
    confidence: Literal["low", "medium", "high"] = "medium"
    """How sure the judge is; it weighs the reward's evidence (memory/trust.py)."""

    @property
    def correct(self) -> bool:
        """Tell whether the verdict is `correct`."""
        return self.verdict == "correct"


class Judgement(NamedTuple):
    """One question to the judge: its usable reply (or None and why not) and the tokens spent."""

    reply: JudgeReply | None
    problem: str | None = None
    tokens: dict[str, int] = {}


def verdict_problem(reply: JudgeReply) -> str | None:
    """Return why a judge's reply cannot be trusted, or None when it makes sense."""
    rationale = reply.rationale.strip()
    if _BARE.fullmatch(rationale):
        return f"the rationale is not a reason: {rationale!r}"
    if rationale.lower().strip(" .!") in _ECHO:
        return f"the rationale only repeats a verdict: {rationale!r}"
    if len(rationale.split()) < 3:
        return f"the rationale is too short to be a reason: {rationale!r}"
    return None


def judge_messages(question: str, answer: str, gold: Sequence[str] = ()) -> list[BaseMessage]:
    """Return the judge's messages: against the gold answers when given, else on its own."""
    system = prompts.JUDGE_GOLD_SYSTEM if gold else prompts.JUDGE_SYSTEM
    return [
        SystemMessage(content=system),
        HumanMessage(content=prompts.judge_request(question, answer, gold)),
    ]


async def ask_judge(
    llm: ChatOpenAI, question: str, answer: str, gold: Sequence[str] = ()
) -> Judgement:
    """Ask the judge once (structured output, one repair) and check that its reply makes sense."""
    reply, error, tokens = await ask_json(llm, judge_messages(question, answer, gold), JudgeReply)
    problem = error if reply is None else verdict_problem(reply)
    return Judgement(None if problem else reply, problem, tokens)


async def judge_reward(
    state: State, ctx: Context
) -> tuple[float | None, dict[str, Any], dict[str, int]]:
    """Return (reward, or None when unknown; the judge record; tokens)."""
    answer = state.get("answer") or ""
    truth = state.get("ground_truth")
    if truth:
        ok = exact_match(answer, truth)
        accepted = " | ".join(split_ground_truth(truth))
        rationale = f"{'matches' if ok else 'does not match'} the ground truth ({accepted})"
        truth_record = {"source": "ground_truth", "model": None, "rationale": rationale}
        return float(ok), {**truth_record, "confidence": 1.0}, {}
    llm = chat_model(ctx.judge_model, ctx.model_timeout, ctx.judge_max_tokens)
    # one after the other: a one-slot local server would keep the second waiting past model_timeout
    asked = [await ask_judge(llm, state["task"], answer) for _ in range(ctx.judge_samples)]
    tokens: dict[str, int] = {}
    for judged in asked:
        for key, n in judged.tokens.items():
            tokens[key] = tokens.get(key, 0) + n
    replies = [j.reply for j in asked if j.reply is not None]
    record: dict[str, Any] = {"source": "llm_judge", "model": ctx.judge_model}
    if not replies:
        problem = next((j.problem for j in asked if j.problem), None)
        record["rationale"] = f"reward unknown: the judge's reply was unusable ({problem})"
        return None, record, tokens
    pick, confidence = sample_agreement(
        [r.verdict for r in replies], [r.confidence for r in replies]
    )
    reply = replies[pick]
    record["rationale"] = reply.rationale.strip()
    if len(replies) > 1:  # weighed by the agreement of two samples (memory/trust.py)
        record["samples"], record["agreed"] = 2, replies[0].verdict == replies[1].verdict
        if not record["agreed"]:
            other = replies[1 - pick]
            record["rationale"] += (
                f" (a second sample said {other.verdict}: {other.rationale.strip()})"
            )
        record["confidence"] = confidence
    else:
        record["confidence"] = reply.confidence  # weighed by the memory (memory/trust.py)
    return float(reply.correct), record, tokens


def case_problem(state: State) -> str | None:
    """Return why an episode must not become a case (no plan, failed planning, nothing done)."""
    if not any(p.get("subtasks") for p in state.get("plans") or []):
        return "no plan was executed"
    if state.get("error"):
        return f"planning failed ({state['error']})"
    results = state.get("results") or {}
    if not any(r.get("status") == "done" for r in results.values()):
        return "no subtask finished"
    return None
