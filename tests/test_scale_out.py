"""Scale-out: threads in PostgreSQL, cases on a Chroma server, concurrent CLI processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from cli_run import memento
from fixtures.postgres import PG
from roles import script_task
from scripted_llm import request_text

pytestmark = pytest.mark.integration  # processes: see conftest.py

ROOT = Path(__file__).resolve().parents[1]


def start_memento(*args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "memento_graph.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def checkpointed_threads(schema: str) -> set[str]:
    with psycopg.connect(PG) as conn:
        rows = conn.execute(f"SELECT DISTINCT thread_id FROM {schema}.checkpoints").fetchall()
    return {r[0] for r in rows}


@pytest.fixture
def env(llm, home):
    return {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def server_cases(url: str) -> list[str]:
    import chromadb

    port = int(url.rsplit(":", 1)[1])
    client = chromadb.HttpClient(host="localhost", port=port)
    tasks = []
    for col in client.list_collections():
        tasks += client.get_collection(col.name).get()["documents"] or []
    return tasks


def test_run_and_resume_on_postgres_and_a_chroma_server(llm, env, home, pg_url, chroma_url):
    url, schema = pg_url
    script_task(llm, ["look it up"], "Paris")
    env = {**env, "MEMENTO_CHECKPOINT_URL": url, "MEMENTO_CHROMA_URL": chroma_url}
    paused = memento(
        "run", "What is the capital of France?", "--approve-plan", "--thread-id", "pg-1", env=env
    )
    assert paused.returncode == 0 and "paused" in paused.stdout, paused.stderr
    assert checkpointed_threads(schema) == {"pg-1"}
    done = memento("resume", "pg-1", "--decision", "approve", "--json", env=env)
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["status"] == "done" and outcome["answer"] == "Paris"
    assert len(server_cases(chroma_url)) == 1
    # Nothing went to the embedded stores.
    assert not (home / "threads.sqlite").exists()
    assert not list((home / "casebank").glob("*.sqlite3")) if (home / "casebank").exists() else True

    again = memento("run", "What is the capital city of France?", "--json", env=env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["cases_used"] == [outcome["case_id"]]


def test_two_concurrent_cli_runs_lose_nothing(llm, env, home, pg_url, chroma_url):
    from memento_graph.memory.core import experience_store
    from memento_graph.thread_index import ThreadIndex

    url, schema = pg_url
    home.mkdir(parents=True)
    ThreadIndex(home), experience_store(home)  # a data directory that exists already
    script_task(llm, ["look it up", "check it"], "done", latency=1.5)
    env = {**env, "MEMENTO_CHECKPOINT_URL": url, "MEMENTO_CHROMA_URL": chroma_url}
    tasks = {"c-1": "Which river is the longest on Earth?", "c-2": "Who painted the Mona Lisa?"}
    procs = [
        start_memento("run", task, "--thread-id", tid, "--json", env=env)
        for tid, task in tasks.items()
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    for proc, (stdout, stderr) in zip(procs, outs, strict=True):
        assert proc.returncode == 0, stderr
        assert json.loads(stdout)["status"] == "done"
    windows = []
    for task in tasks.values():
        calls = [e for e in llm.log if task in request_text(e["body"])]
        windows.append((min(e["start"] for e in calls), max(e["end"] for e in calls)))
    assert max(w[0] for w in windows) < min(w[1] for w in windows)  # the two runs overlapped
    assert checkpointed_threads(schema) == set(tasks)
    assert sorted(server_cases(chroma_url)) == sorted(tasks.values())


def test_embedded_case_bank_waits_for_a_process_that_holds_it(llm, env, home):
    """A process holding the case bank (as `doctor --repair` does) makes runs wait, then refuse."""
    script_task(llm, ["look it up"], "42")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from memento_graph.memory.chroma_client import hold_casebank; "
            "hold_casebank(Path(sys.argv[1])); print('held', flush=True); sys.stdin.readline()",
            str(home / "casebank"),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert holder.stdout.readline().strip() == "held"
    refused = memento("run", "What is 6*7?", env={**env, "MEMENTO_CASEBANK_WAIT": "0.3"})
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert f"is held by another memento process (pid {holder.pid})" in refused.stderr
    assert "MEMENTO_CHROMA_URL" in refused.stderr
    # With a long enough wait, the second process gets its turn once the first one lets go.
    waiting = start_memento("run", "What is 6*7?", "--json", env=env)
    holder.communicate("\n", timeout=10)
    stdout, stderr = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, stderr
    assert json.loads(stdout)["case_id"]


async def test_unreachable_or_unsupported_stores_fail_in_one_line(llm, env, monkeypatch):
    from memento_graph.checkpoint import open_checkpointer
    from memento_graph.commands.studio import free_port
    from memento_graph.context import Context
    from memento_graph.errors import MementoError

    port = free_port()
    bad_chroma = memento(
        "run", "What is 6*7?", env={**env, "MEMENTO_CHROMA_URL": f"http://127.0.0.1:{port}"}
    )
    assert bad_chroma.returncode != 0 and "Traceback" not in bad_chroma.stderr
    assert f"cannot reach the Chroma server http://127.0.0.1:{port}" in bad_chroma.stderr
    for url, message in [
        (f"postgresql://postgres@127.0.0.1:{port}/test", "cannot reach the checkpoint database"),
        ("mysql://x/y", "MEMENTO_CHECKPOINT_URL='mysql://x/y' is not supported"),
    ]:
        monkeypatch.setenv("MEMENTO_CHECKPOINT_URL", url)
        with pytest.raises(MementoError, match=message):
            async with open_checkpointer(Context()):
                pass
