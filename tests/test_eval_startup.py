"""What an eval pays once, not per `--out`: the tool catalogue is the user's, not the run's."""

from __future__ import annotations

from fixtures.mcp_support import context_for, write_mcp_json
from memento_graph.eval.agent import AgentPool
from memento_graph.eval.datasets import EvalItem
from memento_graph.eval.harness import EvalConfig, Job
from roles import answer_reply, is_planner


async def test_evals_into_new_out_folders_start_no_tool_server_for_the_catalogue(llm, tmp_path):
    spawns = tmp_path / "spawns.txt"
    config = write_mcp_json(tmp_path / "mcp.json", FIXTURE_WORD="wren", FIXTURE_SPAWNS=str(spawns))
    base = context_for(tmp_path / "user", mcp_config=str(config))
    llm.rule(is_planner, answer_reply("Seine"))
    job = Job("memory", 0, 1, 0, EvalItem("a", "Which river flows through Paris?", ["Seine"]))
    outcomes = []
    for out in ("first", "second"):
        cfg = EvalConfig(dataset="x", out=tmp_path / out, memory="none")
        async with AgentPool(cfg, base, "r1") as pool:
            outcomes.append(await pool(job))
            if out == "first":  # no catalogue yet: the servers start, and their tools are cached
                await pool.agent("memory", 0).resources.source.toolbox()
    assert [o.answer for o in outcomes] == ["Seine", "Seine"]
    assert len(spawns.read_text().splitlines()) == 1  # the second eval planned from the cache
    assert list((tmp_path / "user" / "cache").glob("tools-*.json"))  # in the user's home
    assert not list((tmp_path / "first" / "home").glob("cache/tools-*.json"))
