"""Why, not just what: a case keeps its answer, the judge's reason and a lesson; lessons are voted on."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from memento_graph.agent import open_agent
from memento_graph.context import Context
from memento_graph.memory import open_memory
from memento_graph.memory.portability import export_cases, import_cases
from memento_graph.prompts import format_cases
from roles import (
    answer_reply,
    is_executor,
    is_first_plan,
    is_judge,
    is_lesson,
    is_replan,
    judge_reply,
    lesson_reply,
    max_tokens_of,
    plan_reply,
)
from scripted_llm import Reply, last_user

MODEL_DIR = Path(
    os.environ.get("MEMENTO_EMBEDDING_MODEL_DIR")
    or Path(__file__).resolve().parents[1].parent / "shared" / "models" / "all-MiniLM-L6-v2"
)
JUDGE = {"source": "llm_judge", "model": "judge-m", "rationale": "the answer names the wrong year"}
MODELS = {"planner": "plan-m", "executor": "exec-m", "judge": "judge-m"}
LESSON = "Check the completion date in two independent sources before comparing ages."


@pytest.fixture
def memory(home: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MEMENTO_EMBEDDING_MODEL_DIR", str(MODEL_DIR))
    return open_memory(Context(home=str(home)))


def finish(memory, thread_id, task, reward=1.0, retrieved=None, **kw):
    return memory.complete_episode(
        thread_id=thread_id, task=task, plan=kw.pop("plan", "p"), answer=kw.pop("answer", "a"),
        reward=reward, judge=kw.pop("judge", JUDGE), retrieved=retrieved or [],
        policy="similarity", models=MODELS, **kw,
    )  # fmt: skip


def script(llm, verdict: str = "correct", lesson: Reply | None = None) -> None:
    llm.rule(is_first_plan, plan_reply("Look up both construction dates"), name="plan")
    llm.rule(is_executor, Reply(content="1889 and 1886"), name="execute")
    llm.rule(is_replan, answer_reply("Statue of Liberty"), name="replan")
    llm.rule(is_judge, judge_reply("the dates show the statue is older", verdict), name="judge")
    llm.rule(is_lesson, lesson or lesson_reply(LESSON), name="lesson")


async def run(task: str, **ctx):
    async with open_agent(Context(**ctx)) as agent:
        return await agent.run(task)


# -- lessons are distilled, stored and shown --------------------------------------------------------
async def test_a_lesson_is_distilled_stored_and_shown_with_the_next_similar_task(llm, home):
    script(llm)
    first = await run("Which is older, the Eiffel Tower or the Statue of Liberty?")
    case = open_memory(Context()).get_case(first.case_id)
    assert case["lesson"] == LESSON and case["answer"] == "Statue of Liberty"
    assert case["judge"]["rationale"] == "the dates show the statue is older"
    asked = llm.requests(is_lesson)
    assert len(asked) == 1 and max_tokens_of(asked[0]) == Context().lesson_max_tokens
    request = last_user(asked[0])  # the lesson writer saw the plan, the findings and the verdict
    assert "Look up both construction dates" in request and "1889 and 1886" in request
    assert "Verdict: correct (the dates show the statue is older)" in request
    assert first.tokens["output"] >= 4 * 5  # plan, execute, replan, judge... and the lesson counted

    await run("Which is older, the Eiffel Tower or Big Ben?")
    prompt = last_user(llm.requests(is_first_plan)[-1])
    assert "Positive examples" in prompt and f"Lesson: {LESSON}" in prompt
    assert "Why it failed" not in prompt  # a positive case shows its lesson, not a failure


async def test_the_planner_sees_a_negative_case_with_its_answer_reason_and_lesson(llm, home):
    pitfall = "Do not trust a single search result for a construction date; confirm it."
    script(llm, verdict="incorrect", lesson=lesson_reply(pitfall))
    await run("Which is older, the Eiffel Tower or the Statue of Liberty?")
    lesson_request = last_user(llm.requests(is_lesson)[0])
    assert "Verdict: wrong (the dates show the statue is older)" in lesson_request
    await run("Which is older, the Eiffel Tower or Big Ben?")
    prompt = last_user(llm.requests(is_first_plan)[-1])
    negative = prompt[prompt.index("Negative examples") :]
    assert "avoid their mistakes" not in prompt
    assert "Answer given: Statue of Liberty" in negative
    assert "Why it failed: the dates show the statue is older" in negative
    assert f"Lesson: {pitfall}" in negative


def test_imported_cases_show_no_import_note_as_a_reason():
    shown = format_cases(
        [{"task": "t", "plan": "p", "label": "negative", "answer": "x", "rationale": None}]
    )
    assert "Answer given: x" in shown and "Why it failed" not in shown and "Lesson" not in shown


@pytest.mark.parametrize(
    "lesson",
    [
        Reply(content='{"lesson": "Always chec', finish_reason="length"),  # cut at the limit
        Reply(content="no json here"),  # malformed twice
        Reply(content='{"lesson": "ok"}'),  # says nothing
        Reply(content="server error", status=400),  # the call fails
    ],
    ids=["cut", "malformed", "empty", "error"],
)
async def test_a_bad_lesson_reply_costs_the_lesson_not_the_episode(llm, home, lesson):
    script(llm, lesson=lesson)
    out = await run("Which is older, the Eiffel Tower or the Statue of Liberty?")
    assert out.status == "done" and out.reward == 1.0 and out.case_id
    memory = open_memory(Context())
    case = memory.get_case(out.case_id)
    assert case["lesson"] is None and case["plan"] and "construction dates" in case["plan"]
    assert memory.episode(out.thread_id)["case_id"] == out.case_id
    assert llm.requests(is_lesson)


async def test_lessons_off_makes_no_lesson_call(llm, home, monkeypatch):
    monkeypatch.setenv("MEMENTO_LESSONS", "false")
    script(llm)
    out = await run("Which is older, the Eiffel Tower or the Statue of Liberty?")
    assert out.case_id and not llm.requests(is_lesson)
    assert open_memory(Context()).get_case(out.case_id)["lesson"] is None


# -- votes ----------------------------------------------------------------------------------------
def lesson_of(memory, task: str, case_id: str, **kw) -> str | None:
    """Return the lesson shown with one case among those retrieved for a task."""
    return {h["id"]: h for h in memory.retrieve(task, 4, "similarity", **kw)}[case_id]["lesson"]


def test_votes_hide_a_lesson_that_keeps_preceding_failures_and_feedback_moves_them(memory):
    # every episode fails (the peers' level is 0), so no case is quarantined: only the lesson fades
    case = finish(memory, "t0", "What is the capital of Peru?", lesson=LESSON, reward=0.0)
    task = "What is the capital of Chile?"
    shown = memory.retrieve(task, 4, "similarity")
    assert shown[0]["id"] == case["id"] and shown[0]["lesson"] == LESSON
    assert memory.get_case(case["id"])["lesson_votes"] == {
        "up": 0.0,
        "down": 0.0,
        "usefulness": 0.5,
    }

    finish(memory, "t1", "What is the capital of Bolivia?", reward=0.0, retrieved=shown)
    assert lesson_of(memory, task, case["id"]) == LESSON  # 1/3: still shown
    finish(memory, "t2", "What is the capital of Ecuador?", reward=0.0, retrieved=shown)
    assert lesson_of(memory, task, case["id"]) is None  # 1/4 < 0.3: faded, the case still shown
    assert memory.get_case(case["id"])["lesson_votes"]["down"] == 2.0
    assert lesson_of(memory, task, case["id"], lesson_floor=0.2) == LESSON

    memory.feedback("t2", 1.0)  # the user says the second episode succeeded: its vote turns up
    votes = memory.get_case(case["id"])["lesson_votes"]
    assert votes == {"up": 1.0, "down": 1.0, "usefulness": 0.5}
    assert lesson_of(memory, task, case["id"]) == LESSON


def test_only_shown_lessons_get_votes_and_a_new_lesson_starts_afresh(memory):
    case = finish(memory, "t0", "Who directed Alien?", lesson=LESSON, reward=0.0)
    hidden = [{**memory.retrieve("Who directed Aliens?", 1, "similarity")[0], "lesson": None}]
    finish(memory, "t1", "Who directed Alien 3?", reward=0.0, retrieved=hidden)
    assert memory.get_case(case["id"])["lesson_votes"]["down"] == 0.0  # not shown: no vote
    shown = memory.retrieve("Who directed Aliens?", 1, "similarity")
    assert shown[0]["id"] == case["id"] and shown[0]["lesson"] == LESSON
    for i in range(3):
        finish(memory, f"d{i}", f"Who directed Alien {i + 4}?", reward=0.0, retrieved=shown)
    assert lesson_of(memory, "Who directed Aliens?", case["id"]) is None
    new = "Search the film's credits page for the director before answering."
    rewritten = finish(memory, "t9", "Who directed Alien?", lesson=new, reward=1.0)  # replaces
    assert rewritten["id"] == case["id"] and rewritten["lesson"] == new
    assert lesson_of(memory, "Who directed Aliens?", case["id"]) == new


# -- old case banks and files ----------------------------------------------------------------------
def test_export_import_carries_answer_reason_and_lesson_and_old_files_still_import(
    memory, home, tmp_path
):
    case = finish(memory, "t0", "Who wrote Hamlet?", lesson=LESSON, answer="Shakespeare")
    old = finish(memory, "t1", "How tall is Mount Everest?")  # written without a lesson
    path = tmp_path / "cases.jsonl"
    export_cases(memory, path)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    by_id = {r.get("id"): r for r in rows[1:]}
    assert by_id[case["id"]]["lesson"] == LESSON and by_id[old["id"]]["lesson"] is None
    older = tmp_path / "older.jsonl"  # a file exported before lessons existed: no lesson key
    older.write_text(
        "\n".join(json.dumps({k: v for k, v in r.items() if k != "lesson"}) for r in rows)
    )
    other = open_memory(Context(home=str(tmp_path / "other")))
    other_new = open_memory(Context(home=str(tmp_path / "third")))
    assert import_cases(other, older)["imported"] == 2
    assert import_cases(other_new, path)["imported"] == 2
    got = other_new.get_case(case["id"])
    assert got["lesson"] == LESSON and got["answer"] == "Shakespeare"
    assert got["judge"]["rationale"] == JUDGE["rationale"]
    assert other.get_case(case["id"])["lesson"] is None
    assert lesson_of(other, "Who wrote Macbeth?", case["id"]) is None


def test_a_lesson_that_is_not_text_is_refused_by_line(memory, tmp_path):
    from memento_graph.errors import MementoError

    path = tmp_path / "bad.jsonl"
    manifest = {"manifest": {"schema_version": 1, "embedder": "x"}}
    row = {"id": "c1", "task": "t", "plan": "p", "reward": 1, "lesson": {"a": 1}}
    path.write_text(json.dumps(manifest) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(MementoError, match="line 2: a case's lesson must be text"):
        import_cases(memory, path)
    assert memory.list_cases() == []
