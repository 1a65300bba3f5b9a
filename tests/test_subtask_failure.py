"""A subtask whose model call fails for good: it fails, its dependents are skipped, the run goes on."""

from __future__ import annotations

from memento_graph.agent import open_agent
from memento_graph.context import Context
from roles import answer_reply, executing, is_executor, is_first_plan, is_replan, plan_reply
from scripted_llm import Reply, last_user


def replan_prompt(llm) -> str:
    (request,) = llm.requests(is_replan)
    return last_user(request)


async def test_a_non_transient_model_error_fails_the_subtask_and_skips_its_dependents(llm, home):
    llm.rule(
        is_first_plan,
        plan_reply(
            "fetch the table",
            ("sum the table", [1]),
            "count to three",
            ("report the sum", [2]),
        ),
    )
    llm.rule(executing("fetch the table"), Reply(status=400))
    llm.rule(is_executor, Reply(content="done: 1, 2, 3"))
    llm.rule(is_replan, answer_reply("three"))
    async with open_agent(Context(policy="none")) as agent:
        out = await agent.run("Count to three, and sum a table")
    assert out.status == "done" and out.answer == "three"
    # a 400 is not retried; the dependents (and theirs) never reach the model; the rest runs
    assert len(llm.requests(executing("fetch the table"))) == 1
    assert llm.requests(executing("sum the table")) == []
    assert llm.requests(executing("report the sum")) == []
    assert len(llm.requests(executing("count to three"))) == 1
    # the planner sees why: the failure with its model error, the skipped chain, the result
    prompt = replan_prompt(llm)
    assert "- [failed] fetch the table\n  result: model error:" in prompt and "400" in prompt
    assert "- [skipped] sum the table\n  result: not run:" in prompt
    assert "- [skipped] report the sum\n  result: not run:" in prompt
    assert "- [done] count to three\n  result: done: 1, 2, 3" in prompt


async def test_a_failed_dependency_of_the_only_subtask_leaves_nothing_to_run(llm, home):
    """With every subtask failed or skipped, the loop goes straight back to the planner."""
    llm.rule(is_first_plan, plan_reply("read the file", ("quote the file", [1])))
    llm.rule(executing("read the file"), Reply(status=404))
    llm.rule(is_executor, Reply(content="unreachable"))
    llm.rule(is_replan, answer_reply("the file could not be read"))
    async with open_agent(Context(policy="none")) as agent:
        out = await agent.run("Quote the file")
    assert out.status == "done" and out.answer == "the file could not be read"
    assert len(llm.requests(executing("read the file"))) == 1
    assert llm.requests(executing("quote the file")) == []
    prompt = replan_prompt(llm)
    assert "[failed] read the file" in prompt and "[skipped] quote the file" in prompt
