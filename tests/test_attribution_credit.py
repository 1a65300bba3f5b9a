"""The planner's attribution (which shown cases it followed or avoided) and the credit it drives."""

from __future__ import annotations

import json

from fixtures.episodes import finish
from memento_graph.llm import all_required
from memento_graph.memory.credit import clean_attribution, influence, kinship, plan_steps
from memento_graph.nodes.plan_schema import attributed_ids, planner_output, salvage_plan


def plan(*steps: str) -> str:
    return json.dumps({"plan": [{"id": i, "description": s} for i, s in enumerate(steps, 1)]})


GOOD = plan("search the official census table for the population")
BAD = plan("guess a round number from memory without searching")
SCHEMA = planner_output(4, ("search",))


def credits(mem, thread_id: str) -> dict[str, float]:
    return {r["case_id"]: r["credit"] for r in mem.episode(thread_id)["retrieved"]}


def test_the_attribution_is_written_after_the_plan_and_before_the_thought():
    schema = all_required(SCHEMA.model_json_schema())
    assert schema["required"] == ["plan", "final_answer", "followed", "avoided", "thought"]
    assert schema["properties"]["followed"]["items"] == {"type": "integer"}


def test_case_numbers_are_read_leniently_and_mapped_to_the_cases_shown():
    reply = SCHEMA.model_validate_json(
        '{"plan": [{"id": 1, "description": "x"}], "followed": ["2", 2, "#3", "the first", 9],'
        ' "avoided": 1, "thought": ""}'
    )
    assert reply.followed == [2, 3, 9] and reply.avoided == [1]
    shown = [{"id": "a", "rank": 1}, {"id": "b", "rank": 2}, {"id": "c", "rank": 3}]
    assert attributed_ids(reply, shown) == {"followed": ["b", "c"], "avoided": ["a"]}  # 9: unknown
    both = SCHEMA.model_validate({"plan": [{"id": 1, "description": "x"}], "followed": [1],
                                  "avoided": [1, 2]})  # fmt: skip
    assert attributed_ids(both, shown) == {"followed": ["a"], "avoided": ["b"]}
    assert attributed_ids(reply, []) == {"followed": [], "avoided": []}  # nothing shown
    assert clean_attribution({"followed": ["a", "a"], "avoided": ["a", "b"]}) == {
        "followed": ["a"], "avoided": ["b"],
    }  # fmt: skip


def test_a_reply_cut_after_its_plan_keeps_every_subtask_and_the_attribution():
    text = ('{"plan": [{"id": 1, "description": "find it"}, {"id": 2, "description": "check it"}],'
            ' "final_answer": null, "followed": [2], "avoided": [1], "thought": "the second case wo')  # fmt: skip
    mended, note = salvage_plan(text, SCHEMA)
    assert [s.id for s in mended.plan] == [1, 2] and mended.followed == [2]
    assert mended.avoided == [1] and "cut" in note
    inside = '{"plan": [{"id": 1, "description": "find it"}, {"id": 2, "description": "che'
    assert [s.id for s in salvage_plan(inside, SCHEMA)[0].plan] == [1]  # cut inside the plan


def test_steps_are_read_from_json_plans_and_from_text():
    assert plan_steps(GOOD) == ["search the official census table for the population"]
    assert plan_steps("look it up\n\ncheck it") == ["look it up", "check it"]


def test_attribution_outweighs_a_plan_that_resembles_no_case():
    weights = [0.5, 0.5]
    unrelated = influence([0.2, 0.2], weights)
    assert unrelated.sum() < 0.01  # alike only as neighbouring plans are: "followed no case"
    named = influence([0.2, 0.2], weights, followed=[1], avoided=[0, 7])  # 7: not shown, ignored
    assert named[1] > 10 * named[0]
    copied = influence([1.0, 0.2], weights)
    assert copied[0] > 0.9 and influence([1.0, 0.2], weights, avoided=[0])[0] < copied[0]


def test_kinship_shares_records_between_paraphrases_only():
    kin = kinship([[1.0, 0.85, 0.42], [0.85, 1.0, 0.3], [0.42, 0.3, 1.0]])
    assert kin[0, 0] == 1.0 and kin[0, 1] > 0.9 and kin[0, 2] < 0.01


def test_credit_goes_to_the_case_the_planner_names(memory):
    good = finish(memory, "t1", "What is the population of Oslo?", plan=GOOD)
    bad = finish(memory, "t2", "What is the population of Bergen?", plan=BAD)
    shown = memory.retrieve("What is the population of Trondheim?", 4, "similarity")
    own = plan("estimate the figure roughly from what you remember")  # like BAD as neighbours are
    attribution = {"followed": [bad["id"], "no-such-case", bad["id"]], "avoided": [good["id"]]}
    finish(memory, "t3", "What is the population of Trondheim?", 0.0, shown, plan=own,
           attribution=attribution)  # fmt: skip
    finish(memory, "t4", "What is the population of Trondheim?", 0.0, shown, plan=own)
    named, unnamed = credits(memory, "t3"), credits(memory, "t4")
    assert named[bad["id"]] > 0.15 and named[bad["id"]] > 5 * unnamed[bad["id"]]
    assert named[good["id"]] < 0.01
    assert memory.episode("t3")["attribution"] == {"followed": [bad["id"], "no-such-case"],
                                                   "avoided": [good["id"]]}  # fmt: skip


def test_a_reworded_plan_is_credited_without_a_shared_word(memory):
    good = finish(memory, "t1", "What is the population of Oslo?", plan=GOOD)
    bad = finish(memory, "t2", "What is the population of Bergen?", plan=BAD)
    shown = memory.retrieve("What is the population of Trondheim?", 4, "similarity")
    reworded = plan("Look up how many inhabitants the government statistics report")
    content = {"search", "official", "census", "table", "population"}  # GOOD's content words
    assert not set(plan_steps(reworded)[0].lower().split()) & content
    finish(memory, "t3", "What is the population of Trondheim?", 1.0, shown, plan=reworded)
    credit = credits(memory, "t3")
    assert credit[good["id"]] > 0.3 > 0.05 > credit[bad["id"]]
