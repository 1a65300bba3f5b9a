"""The one LLM judge: the graph's reward and the eval's grading ask it alike and read it alike."""

from __future__ import annotations

import json

import pytest

from memento_graph.context import Context
from memento_graph.eval.metrics import open_llm_judge
from memento_graph.judge import JudgeReply, judge_reward
from roles import grade_reply, is_grader, is_judge
from scripted_llm import Reply, last_user, system_text


def schema_of(req: dict) -> dict:
    return req["response_format"]["json_schema"]["schema"]


async def test_reward_and_grading_share_the_prompt_family_and_the_reply_schema(llm, home):
    llm.rule(is_grader, grade_reply(True))
    llm.rule(is_judge, Reply(content=json.dumps({"rationale": "it names the tower's year",
                                                "verdict": "correct", "confidence": "high"})))  # fmt: skip
    async with open_llm_judge("gpt-4o-mini") as grade:
        graded = await grade("When was the Eiffel Tower completed?", "in 1889", ["1889"])
    state = {"task": "When was the Eiffel Tower completed?", "answer": "1889"}
    reward, record, _ = await judge_reward(state, Context(judge_samples=1))

    assert graded.reply is not None and graded.reply.correct and graded.problem is None
    assert reward == 1.0 and record["rationale"] == "it names the tower's year"
    (grading,) = llm.requests(is_grader)
    (judging,) = [r for r in llm.requests(is_judge) if not is_grader(r)]
    assert schema_of(grading) == schema_of(judging)  # one structured reply: JudgeReply
    assert set(schema_of(grading)["properties"]) == set(JudgeReply.model_fields)
    assert system_text(grading).startswith("You judge") and system_text(judging).startswith(
        "You judge"
    )
    assert system_text(grading).endswith(system_text(judging).split(". ", 1)[1])  # same reply
    assert "Gold answers:\n- 1889\nCandidate answer: in 1889" in last_user(grading)
    assert "Gold answers" not in last_user(judging)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("CORRECT\nsame city", "reply"),  # the old free-text grade is not a verdict
        (json.dumps({"rationale": "yes", "verdict": "correct"}), "only repeats a verdict"),
        (json.dumps({"rationale": "1.0", "verdict": "correct"}), "not a reason"),
        (json.dumps({"rationale": "same", "verdict": "maybe"}), "verdict"),
    ],
)
async def test_an_unusable_grade_is_unknown_for_the_eval_as_for_the_reward(
    llm, home, content, problem
):
    llm.rule(is_judge, Reply(content=content))
    async with open_llm_judge("gpt-4o-mini") as grade:
        graded = await grade("Which river flows through Paris?", "Seine", ["Seine"])
    reward, record, _ = await judge_reward(
        {"task": "Which river flows through Paris?", "answer": "Seine"}, Context(judge_samples=1)
    )
    assert graded.reply is None and problem in (graded.problem or "")
    assert reward is None and "reward unknown" in record["rationale"]


async def test_an_empty_answer_is_incorrect_without_asking(llm, home):
    async with open_llm_judge("gpt-4o-mini") as grade:
        graded = await grade("Which river flows through Paris?", "  ", ["Seine"])
    assert graded.reply is not None and not graded.reply.correct and not llm.requests()
