"""Learning shared across processes and machines: the experience store and policy state in PostgreSQL.

Two memories standing for two processes (each with its own store connections), then two `langgraph dev`
servers with their own data directories on one PostgreSQL and one Chroma server.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import psycopg
import pytest
from langgraph_sdk import get_client

from cli_run import memento
from fixtures.postgres import PG
from hashed_embedder import HashedEmbedder
from memento_graph.commands.studio import free_port, start_server, stop_server, wait_ready
from memento_graph.memory.core import Memory
from memento_graph.memory.experience import ExperienceStore, read_state
from roles import script_task

ROOT = Path(__file__).resolve().parents[1]
JUDGE = {"source": "ground_truth"}


def stored_policy(schema: str) -> tuple[int, int]:
    """Return (version, training steps) of the one learned policy state in `schema`."""
    with psycopg.connect(PG) as conn:
        [(version, blob)] = conn.execute(f"select version, state from {schema}.policy_state")
    return version, int(read_state(blob)["updates"][0])


def finish(memory: Memory, thread_id: str, task: str, reward: float) -> dict:
    shown = memory.retrieve(task, 4, "learned")
    return memory.complete_episode(
        thread_id=thread_id, task=task, plan=f"plan for {task}", answer="a", reward=reward,
        judge=JUDGE, retrieved=shown, policy="learned", models={},
    )  # fmt: skip


def test_each_process_learns_from_the_others_episodes(tmp_path, pg_url):
    url, schema = pg_url
    embedder = HashedEmbedder()
    one = Memory(tmp_path / "one", "u", embedder, experience_url=url)
    two = Memory(tmp_path / "two", "u", embedder, experience_url=url)
    two.store = ExperienceStore(url=url)  # its own connections, as another process has
    two.bank = one.bank  # one case bank (a Chroma server in production)
    case = finish(one, "t1", "capital of France", 1.0)
    assert one.learned_policy(embedder.dim).version == 0  # nothing learned yet

    finish(two, "t2", "capital of France", 1.0)  # shown the case process one wrote
    episode = one.episode("t2")  # ... which process one reads back, credited
    assert [r["case_id"] for r in episode["retrieved"]] == [case["id"]]
    assert episode["retrieved"][0]["credit"] > 0
    assert stored_policy(schema) == (1, 1)
    learned_by_two = two.learned_policy(embedder.dim).weights.copy()
    policy = one.learned_policy(embedder.dim)  # before its next selection, one reloads
    assert policy.version == 1 and np.array_equal(policy.weights, learned_by_two)

    finish(one, "t3", "capital of France", 0.0)  # one's step starts from two's
    assert stored_policy(schema) == (2, 2)
    one.feedback("t2", 0.0, "wrong after all")  # feedback through one on two's episode
    assert stored_policy(schema) == (3, 3)
    assert two.episode("t2")["judge_source"] == "user"
    assert two.learned_policy(embedder.dim).version == 3


@pytest.fixture
def servers(llm, tmp_path, pg_url, chroma_url):
    """Two `langgraph dev` servers, each with its own data directory, on one PostgreSQL and Chroma."""
    url, schema = pg_url
    env = {
        "LANGSMITH_TRACING": "false",
        "PYTHONPATH": str(ROOT / "src"),
        "MEMENTO_DISABLE_SERVERS": "all",
        "MEMENTO_CHECKPOINT_URL": url,  # the experience store follows it
        "MEMENTO_CHROMA_URL": chroma_url,
        "MEMENTO_POLICY": "learned",
        "MEMENTO_EMBEDDING_MODEL": "openai:emb",  # the scripted server's embeddings: no model to load
        "MEMENTO_SIMILARITY_FLOOR": "0",  # those are hashes: a floor on meaning does not apply
    }
    started = []
    try:
        for name in ("a", "b"):
            port = free_port()
            home = tmp_path / name
            started.append((start_server(home, "127.0.0.1", port, env=env), home, port))
        for proc, home, port in started:
            wait_ready(proc, f"http://127.0.0.1:{port}", home / "logs" / "studio.log")
        yield [f"http://127.0.0.1:{port}" for _, _, port in started], env, schema
    finally:
        for proc, _, _ in started:
            stop_server(proc)


async def run(server: str, task: str) -> tuple[str, dict]:
    client = get_client(url=server)
    thread = await client.threads.create()
    out = await client.runs.wait(
        thread["thread_id"], "memento", input={"task": task, "ground_truth": "Paris"}
    )
    return thread["thread_id"], out


async def test_two_servers_share_cases_episodes_and_learning(llm, servers, tmp_path):
    (a, b), env, schema = servers
    script_task(llm, ["look it up"], "Paris")
    first, out = await run(a, "What is the capital of France?")
    case = out["case_id"]
    assert out["reward"] == 1.0 and case and not out.get("cases")

    second, out = await run(b, "What is the capital city of France?")
    assert [c["id"] for c in out["cases"]] == [case]  # a's case, retrieved through b
    with psycopg.connect(PG) as conn:
        credit = conn.execute(
            f"select credit from {schema}.retrievals where thread_id = %s", [second]
        ).fetchone()[0]
    assert credit > 0 and stored_policy(schema) == (1, 1)  # b learned from it

    third, out = await run(a, "Which city is the capital of France?")
    assert case in [c["id"] for c in out["cases"]]  # selected with b's state, learned on it
    assert stored_policy(schema) == (2, 2)

    other_home = {**os.environ, **env, "MEMENTO_HOME": str(tmp_path / "laptop")}
    fed = memento("feedback", third, "--reward", "0", "--note", "not the capital", env=other_home)
    assert fed.returncode == 0, fed.stderr
    assert f"feedback recorded for {third}: reward 0" in fed.stdout
    with psycopg.connect(PG) as conn:
        row = conn.execute(
            f"select reward, judge_source, note from {schema}.episodes where thread_id = %s",
            [third],
        ).fetchone()
    assert row == (0.0, "user", "not the capital") and stored_policy(schema) == (3, 3)
    assert first != third


def test_a_bad_or_unreachable_experience_url_is_one_line(home, monkeypatch):
    from memento_graph.context import Context
    from memento_graph.errors import MementoError
    from memento_graph.memory import open_memory

    port = free_port()
    monkeypatch.setenv("MEMENTO_EXPERIENCE_URL", "mysql://x/y")
    with pytest.raises(
        MementoError, match=r"MEMENTO_EXPERIENCE_URL=.mysql://x/y. is not valid: use postgresql"
    ):
        Context()
    monkeypatch.setenv("MEMENTO_EXPERIENCE_URL", f"postgresql://postgres:secret@127.0.0.1:{port}/x")
    with pytest.raises(MementoError) as failed:
        open_memory(Context())
    message = str(failed.value)
    assert message.startswith(
        f"cannot use the experience database postgresql://postgres@127.0.0.1:{port}/x"
    )
    assert "secret" not in message and "\n" not in message
