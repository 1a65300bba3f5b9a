"""Per-item scores: normalised exact match, token F1, partial match (PM) and the LLM judge.

EM, F1 and PM are computed against every accepted answer and the best one counts. PM follows
the paper's DeepResearcher tables: an answer that contains an accepted answer (or is contained
in one) as whole words after normalisation counts as a partial match. The LLM judge is the
graph's judge (judge.py) told the accepted answers: it says whether the answer states the same
fact as one of them (SimpleQA-style grading); a reply it cannot use leaves the judge score unknown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from memento_graph.judge import Judgement, JudgeReply, ask_judge
from memento_graph.scoring import exact_match, f1_score, partial_match

METRICS = ("em", "f1", "pm", "judge")
NO_ANSWER = Judgement(JudgeReply(rationale="no answer", verdict="incorrect"))
"""The judgement of an empty answer (the judge is not asked)."""

Judge = Callable[[str, str, list[str]], Awaitable[Judgement]]
"""Grades (question, answer, accepted answers)."""


def score_answer(prediction: str | None, answers: list[str]) -> dict[str, float]:
    """Return em, f1 and pm of one prediction against the accepted answers (each in [0, 1])."""
    return {
        "em": float(exact_match(prediction, answers)),
        "f1": round(f1_score(prediction, answers), 6),
        "pm": float(partial_match(prediction, answers)),
    }


@asynccontextmanager
async def open_llm_judge(
    model: str, *, timeout: float = 120.0, retries: int = 3, max_tokens: int = 512
) -> AsyncIterator[Judge]:
    """Yield a judge grading answers with an OpenAI-compatible chat model.

    It has its own HTTP client, opened in the running event loop and closed on exit. Replies are
    streamed (`timeout` is the silence allowed) and bounded by `max_tokens`.
    """
    import openai
    from langchain_openai import ChatOpenAI

    from memento_graph.llm import streamed

    client = openai.DefaultAsyncHttpxClient()
    llm = ChatOpenAI(
        model=model,
        temperature=0,
        max_retries=retries,
        http_async_client=client,
        **streamed(timeout, max_tokens),
    )

    async def judge(question: str, prediction: str, answers: list[str]) -> Judgement:
        if not prediction or not prediction.strip():
            return NO_ANSWER
        return await ask_judge(llm, question, prediction, answers)

    try:
        yield judge
    finally:
        await client.aclose()
