"""Predicates and replies for scripting the planner, executor, synthesizer and judge."""

from __future__ import annotations

import json

from scripted_llm import Reply, ScriptedLLM, last_user, system_text


def is_planner(req: dict) -> bool:
    return "META-PLANNER" in system_text(req) and bool(req.get("response_format"))


def is_first_plan(req: dict) -> bool:
    return is_planner(req) and "Results of the subtasks" not in last_user(req)


def is_replan(req: dict) -> bool:
    return is_planner(req) and "Results of the subtasks" in last_user(req)


def is_executor(req: dict) -> bool:
    return "You are the EXECUTOR" in system_text(req)


def is_judge(req: dict) -> bool:
    return "You judge" in system_text(req)


def is_grader(req: dict) -> bool:
    """The eval's grading: the judge told the accepted answers."""
    return "against the accepted gold answers" in system_text(req)


def is_synth(req: dict) -> bool:
    return "Planning stopped" in system_text(req)


def executing(text: str):
    """Match executor requests for the subtask whose description contains `text`."""
    return lambda req: is_executor(req) and f"Your subtask: {text}" in req["messages"][1]["content"]


def plan_reply(*subtasks: str | tuple[str, list[int]], latency: float = 0.0) -> Reply:
    steps = []
    for i, s in enumerate(subtasks, 1):
        desc, deps = (s, []) if isinstance(s, str) else s
        steps.append({"id": i, "description": desc, "depends_on": deps})
    return Reply(content=json.dumps({"thought": "", "plan": steps}), latency=latency)


def answer_reply(answer: str) -> Reply:
    return Reply(content=json.dumps({"thought": "done", "plan": [], "final_answer": answer}))


def script_task(
    llm: ScriptedLLM, subtasks: list, answer: str, result: str = "found it", latency: float = 0.0
) -> None:
    """Script a whole episode: plan, every subtask answered, final answer, a 'correct' verdict."""
    llm.rule(is_first_plan, plan_reply(*subtasks), name="plan")
    llm.rule(is_executor, Reply(content=result, latency=latency), name="execute")
    llm.rule(is_replan, answer_reply(answer), name="replan")
    llm.rule(is_synth, Reply(content=answer), name="synth")
    llm.rule(
        is_judge,
        Reply(
            content=json.dumps(
                {"rationale": "the answer names the right fact", "verdict": "correct"}
            )
        ),
        name="judge",
    )


def tool_plan_reply(*subtasks: tuple[str, list[str]] | tuple[str, list[str], list[int]]) -> Reply:
    """A plan whose subtasks name their tools: ("description", ["tool"], [deps])."""
    steps = []
    for i, (desc, tools, *deps) in enumerate(subtasks, 1):
        steps.append(
            {"id": i, "description": desc, "tools": tools, "depends_on": deps[0] if deps else []}
        )
    return Reply(content=json.dumps({"plan": steps, "final_answer": None, "thought": ""}))


def grade_reply(correct: bool) -> Reply:
    """The eval grader's reply: the candidate states the gold answer's fact, or does not."""
    rationale = "it states the same fact" if correct else "it names something else"
    verdict = "correct" if correct else "incorrect"
    return Reply(content=json.dumps({"rationale": rationale, "verdict": verdict}))


def judge_reply(rationale: str, verdict: str = "correct") -> Reply:
    return Reply(content=json.dumps({"rationale": rationale, "verdict": verdict}))


def offered_tools(req: dict) -> list[str]:
    """Return the names of the tools a request offers."""
    return [t["function"]["name"] for t in req.get("tools") or []]


def max_tokens_of(req: dict) -> int | None:
    """Return the reply bound a request carries (`max_completion_tokens` or `max_tokens`)."""
    return req.get("max_completion_tokens", req.get("max_tokens"))


def is_lesson(req: dict) -> bool:
    return "You review one finished episode" in system_text(req)


def lesson_reply(lesson: str) -> Reply:
    return Reply(content=json.dumps({"lesson": lesson}))
