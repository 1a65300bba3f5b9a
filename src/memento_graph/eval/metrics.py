"""Per-item scores: normalised exact match, token F1, partial match (PM) and an LLM judge.

EM, F1 and PM are computed against every accepted answer and the best one counts. PM follows
the paper's DeepResearcher tables: an answer that contains an accepted answer (or is contained
in one) as whole words after normalisation counts as a partial match. The LLM judge asks a model
whether the answer means the same as an accepted answer (SimpleQA-style grading).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from memento_graph.scoring import exact_match, f1_score, partial_match

METRICS = ("em", "f1", "pm", "judge")

JUDGE_SYSTEM = (
    "You grade a candidate answer to a question against the accepted gold answers. "
    "The candidate is CORRECT when it states the same fact as one gold answer, allowing for "
    "paraphrase, extra detail that does not contradict it, and trivial formatting or unit "
    "differences; otherwise it is INCORRECT (also when it hedges between several answers or "
    "gives none). Reply with CORRECT or INCORRECT on the first line, then one sentence of reason."
)


@dataclass
class Verdict:
    """The LLM judge's decision on one answer."""

    correct: bool
    rationale: str


Judge = Callable[[str, str, list[str]], Awaitable[Verdict]]


def score_answer(prediction: str | None, answers: list[str]) -> dict[str, float]:
    """Return em, f1 and pm of one prediction against the accepted answers (each in [0, 1])."""
    return {
        "em": float(exact_match(prediction, answers)),
        "f1": round(f1_score(prediction, answers), 6),
        "pm": float(partial_match(prediction, answers)),
    }


def judge_prompt(question: str, prediction: str, answers: list[str]) -> str:
    """Return the user message that asks the judge to grade one answer."""
    gold = "\n".join(f"- {a}" for a in answers[:20])
    return f"Question: {question}\nGold answers:\n{gold}\nCandidate answer: {prediction}"


def parse_verdict(text: str) -> Verdict:
    """Read the judge's reply: the first word decides; the rest is the rationale."""
    stripped = (text or "").strip()
    head, _, rest = stripped.partition("\n")
    word = head.strip().strip("*#:. ").upper()
    correct = word.startswith("CORRECT")
    rationale = (rest.strip() or head.strip())[:500]
    return Verdict(correct=correct, rationale=rationale)


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

    async def judge(question: str, prediction: str, answers: list[str]) -> Verdict:
        if not prediction or not prediction.strip():
            return Verdict(False, "no answer")
        reply = await llm.ainvoke(
            [("system", JUDGE_SYSTEM), ("user", judge_prompt(question, prediction, answers))]
        )
        return parse_verdict(str(reply.content))

    try:
        yield judge
    finally:
        await client.aclose()
