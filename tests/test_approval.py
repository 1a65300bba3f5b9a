"""Plan approval: the run pauses after planning; approve, edit or reject resumes it."""

from __future__ import annotations

import json

import pytest

from cli_run import memento
from memento_graph.agent import open_agent
from memento_graph.context import Context
from roles import executing, is_executor, script_task


async def paused_run(llm, **kw):
    script_task(llm, ["look it up", "double check"], "42")
    agent_cm = open_agent(Context(approve_plan=True, **kw))
    agent = await agent_cm.__aenter__()
    out = await agent.run("What is six times seven?")
    return agent_cm, agent, out


async def test_approve_runs_the_plan(llm, home):
    cm, agent, out = await paused_run(llm)
    try:
        assert out.status == "paused" and not llm.requests(is_executor)
        assert [s["description"] for s in out.interrupt["plan"]] == ["look it up", "double check"]
        done = await agent.resume(out.thread_id, decision={"action": "approve"})
        assert done.status == "done" and done.answer == "42"
        assert len(llm.requests(is_executor)) == 2
    finally:
        await cm.__aexit__(None, None, None)


async def test_edit_replaces_the_plan(llm, home):
    cm, agent, out = await paused_run(llm)
    try:
        bad = await agent.resume(
            out.thread_id,
            decision={
                "action": "edit",
                "plan": [{"id": 1, "description": "loop", "depends_on": [1]}],
            },
        )
        assert bad.status == "paused" and "invalid" in bad.interrupt["error"]
        plan = [{"id": 1, "description": "multiply six by seven", "depends_on": []}]
        done = await agent.resume(out.thread_id, decision={"action": "edit", "plan": plan})
        assert done.status == "done"
        assert len(llm.requests(executing("multiply six by seven"))) == 1
        assert not llm.requests(executing("look it up"))
        assert not llm.requests(executing("double check"))
    finally:
        await cm.__aexit__(None, None, None)


async def test_reject_ends_without_executing_or_remembering(llm, home):
    cm, agent, out = await paused_run(llm)
    try:
        done = await agent.resume(
            out.thread_id, decision={"action": "reject", "reason": "too slow"}
        )
        assert done.status == "rejected" and "too slow" in done.note
        assert not llm.requests(is_executor) and done.case_id is None
        from memento_graph.memory import open_memory

        assert open_memory(Context()).list_cases() == []
    finally:
        await cm.__aexit__(None, None, None)


@pytest.mark.integration
def test_cli_prompts_for_approval_and_edit(llm, home):
    script_task(llm, ["look it up"], "42")
    approved = memento("run", "What is six times seven?", "--approve-plan", stdin="a\n")
    assert approved.returncode == 0, approved.stderr
    assert "approve, edit or reject?" in approved.stderr and "42" in approved.stdout
    plan = json.dumps([{"id": 1, "description": "compute 6*7", "depends_on": []}])
    edited = memento("run", "What is six times seven?", "--approve-plan", stdin=f"e\n{plan}\n")
    assert edited.returncode == 0, edited.stderr
    assert len(llm.requests(executing("compute 6*7"))) == 1


@pytest.mark.integration
def test_cli_without_a_person_leaves_the_thread_paused_then_resume_decides(llm, home, tmp_path):
    script_task(llm, ["look it up"], "42")
    paused = memento("run", "What is six times seven?", "--approve-plan", "--thread-id", "t-p")
    assert paused.returncode == 0 and "paused" in paused.stdout
    assert "paused" in memento("threads").stdout
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps({"plan": [{"id": 1, "description": "from a file"}]}))
    done = memento("resume", "t-p", "--plan", str(plan_file))
    assert done.returncode == 0, done.stderr
    assert "42" in done.stdout and len(llm.requests(executing("from a file"))) == 1
    bad = memento("resume", "t-p", "--decision", "maybe")
    assert bad.returncode != 0 and "error: --decision must be approve or reject" in bad.stderr
