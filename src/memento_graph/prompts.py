"""Prompts of the meta-planner, the executor, the synthesizer and the judge."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from memento_graph.state import Dependency, ExecutedSubtask, RetrievedCase, Subtask, SubtaskResult

PLANNER_SYSTEM = """You are the META-PLANNER of a hierarchical agent. Given a task, either
1. write a plan: a minimal set (at most {max_subtasks}) of executable subtasks for the EXECUTOR,
   who has the tools listed below. Give each subtask an integer id, a short self-contained
   description, `tools`: the names of the tools it needs (empty when none), and `depends_on`: the
   ids whose results it needs. Subtasks without dependencies run in parallel, so only add a
   dependency when a subtask truly needs another's result; or
2. give the final answer, when the task and the results so far are enough.

{tools}

Reply with JSON only, matching this schema:
{{"plan": [{{"id": int, "description": str, "tools": [str], "depends_on": [int]}}], "final_answer": str | null, "followed": [int], "avoided": [int], "thought": str}}
Exactly one of `plan` (non-empty) and `final_answer` must be given. `followed`: the numbers of the
examples shown below whose plans you followed or adapted; `avoided`: the numbers of the examples
whose mistakes you avoided; both empty when no example was shown or used. Keep the thought short.
Example: {{"plan": [{{"id": 1, "description": "Find the height of the Eiffel Tower", "tools": [],
"depends_on": []}}, {{"id": 2, "description": "Find the height of the Statue of Liberty", "tools": [],
"depends_on": []}}], "final_answer": null, "followed": [], "avoided": [], "thought": "two lookups,
then compare"}}

The final answer is a number, or as few words as possible, or a comma-separated list; no units or
articles unless asked. Never call tools yourself: that is the EXECUTOR's job.
Current date: {date}."""

EXECUTOR_SYSTEM = """You are the EXECUTOR. You receive one subtask of a larger task from the
meta-planner. Complete it, calling the available tools when they help. Reply with the minimal content
the meta-planner needs: the facts found, with sources when you have them. Do not write a final answer
to the whole task."""

SYNTHESIZE_SYSTEM = """You are the META-PLANNER of a hierarchical agent. Planning stopped before a
final answer ({reason}). Using the task and whatever results were gathered, give your best final
answer: a number, or as few words as possible, or a comma-separated list. Reply with the answer only."""

_JUDGE_REPLY = """Give a short rationale first, then the verdict and how sure you are. Reply with
JSON only: {"rationale": str, "verdict": "correct" | "incorrect", "confidence": "low" | "medium" | "high"}"""

JUDGE_SYSTEM = "You judge whether an agent's answer to a task is correct. " + _JUDGE_REPLY
"""The graph's reward judge: the task and the answer, no accepted answers."""

JUDGE_GOLD_SYSTEM = (
    "You judge a candidate answer to a question against the accepted gold answers. It is "
    "correct when it states the same fact as one gold answer, allowing for paraphrase, extra "
    "detail that does not contradict it, and trivial formatting or unit differences; otherwise it "
    "is incorrect (also when it hedges between several answers or gives none). " + _JUDGE_REPLY
)
"""The eval's grader (SimpleQA-style): the same judge, told the accepted answers."""

LESSON_SYSTEM = """You review one finished episode of an agent: the task, the plan it followed, what
the steps found, its answer and the verdict on it. Write ONE lesson for future similar tasks, in one
or two short sentences: if the answer was correct, why the plan worked (a strategy to reuse); if it
was wrong, the likely cause and the pitfall to avoid next time. State the general insight, not this
task's names or answer. Reply with JSON only: {"lesson": str}"""

BUDGET_SPENT = """You have used all your tool calls for this subtask. Reply now with the result from
what you have found, without calling tools."""

TOO_LONG = """Your reply could not be used: {error}.
Reply again with JSON only, much shorter: fewer and shorter items, a one-sentence thought."""

NO_TOOLS = "Tools of the executor: none are loaded, so plan subtasks that need no tools."

TOOL_ARGUMENTS = (
    """Call the tool `{name}` for this subtask: reply with its arguments as JSON only."""
)

REPAIR = """Your reply could not be used: {error}
Reply again with JSON only, matching the schema exactly."""


def _plan_text(plan: str) -> str:
    """Render a stored plan (JSON string) as numbered lines, or as is when it is not JSON."""
    try:
        data = json.loads(plan)
        steps = data.get("plan", data) if isinstance(data, dict) else data
        return "\n".join(
            f"  {s.get('id', i + 1)}. {s.get('description', '')}" for i, s in enumerate(steps)
        )
    except (ValueError, TypeError, AttributeError):
        return f"  {plan}"


def _clip(text: Any, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _why(case: RetrievedCase) -> str:
    """Return a shown case's answer (negatives), the judge's reason (negatives) and its lesson."""
    lines = []
    if case.get("label") == "negative" and case.get("answer"):
        lines.append(f"Answer given: {_clip(case['answer'], 200)}")
    if case.get("label") == "negative" and case.get("rationale"):
        lines.append(f"Why it failed: {_clip(case['rationale'], 300)}")
    if case.get("lesson"):
        lines.append(f"Lesson: {_clip(case['lesson'], 300)}")
    return "".join(f"\n{line}" for line in lines)


def format_cases(cases: Sequence[RetrievedCase]) -> str:
    """Show retrieved cases as positive examples to follow and negative ones to avoid, with why."""
    if not cases:
        return ""
    parts = []
    for label, title in (
        ("positive", "Positive examples (these plans succeeded: follow them)"),
        ("negative", "Negative examples (these plans failed: do not repeat what went wrong)"),
    ):
        chosen = [c for c in cases if c.get("label") == label]
        if not chosen:
            continue
        parts.append(f"{title}:")
        for i, case in enumerate(chosen, 1):  # numbered by rank: the planner names them so
            number = case.get("rank") or i
            parts.append(
                f"Example {number}:\nTask: {case['task']}\nPlan:\n{_plan_text(case['plan'])}"
            )
            parts[-1] += _why(case)
    return "\n\n".join(parts)


def planner_request(
    task: str,
    files: list[str],
    cases: Sequence[RetrievedCase],
    history: Sequence[ExecutedSubtask],
) -> str:
    """Build the planner's user message: the task, files, past cases and results so far."""
    parts = [f"Task: {task}"]
    if files:
        parts.append("Attached files:\n" + "\n".join(f"- {f}" for f in files))
    memory = format_cases(cases)
    if memory:
        parts.append(memory)
    if history:
        lines = [f"- [{r['status']}] {r['description']}\n  result: {r['output']}" for r in history]
        parts.append(
            "Results of the subtasks executed so far:\n" + "\n".join(lines) + "\n\nGive the final "
            "answer if these results are enough; otherwise a new plan for the remaining work only."
        )
    return "\n\n".join(parts)


def judge_request(question: str, answer: str, gold: Sequence[str] = ()) -> str:
    """Build the judge's user message: the task and answer, and the gold answers when known."""
    if not gold:
        return f"Task: {question}\n\nAnswer: {answer}"
    listed = "\n".join(f"- {a}" for a in list(gold)[:20])
    return f"Question: {question}\nGold answers:\n{listed}\nCandidate answer: {answer}"


def lesson_request(
    task: str, plan: str, results: Sequence[SubtaskResult], answer: str, verdict: str
) -> str:
    """Build the lesson writer's user message: task, plan, what the steps found, answer, verdict."""
    found = "\n".join(f"- {_clip(r.get('output') or r.get('status'), 200)}" for r in results[:4])
    return (
        f"Task: {task}\n\nPlan:\n{_plan_text(plan)}\n\nWhat the steps found:\n{found or '- nothing'}"
        f"\n\nAnswer: {_clip(answer or '(none)', 300)}\n\nVerdict: {_clip(verdict, 400)}"
    )


def executor_request(
    task: str,
    subtask: Subtask,
    dependencies: Sequence[Dependency],
    files: list[str],
    other_tools: Sequence[str] = (),
) -> str:
    """Build the executor's user message for one subtask."""
    parts = [f"Overall task (for context): {task}", f"Your subtask: {subtask['description']}"]
    if dependencies:
        parts.append(
            "Results of the subtasks this one depends on:\n"
            + "\n".join(f"- {d['description']}: {d['output']}" for d in dependencies)
        )
    if files:
        parts.append("Attached files:\n" + "\n".join(f"- {f}" for f in files))
    if other_tools:
        parts.append("Other tools you may call if needed: " + ", ".join(other_tools[:40]))
    return "\n\n".join(parts)
