"""Shared fixtures: offline settings, a scripted model server, a fresh data directory, a memory.

Tiers (markers, see the README): unmarked tests are fast unit tests; `integration` tests start
processes (the CLI, MCP servers, `langgraph dev`, browsers, database servers); `realmodel` tests
run a real small model. Helpers shared by several test files live in tests/ and tests/fixtures/.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

# Offline and quiet before anything imports LangChain or LangGraph.
os.environ["LANGSMITH_TRACING"] = "false"
os.environ.pop("LANGCHAIN_TRACING_V2", None)
os.environ.setdefault("MEMENTO_RETRY_INITIAL", "0.05")
os.environ.setdefault("MEMENTO_MODEL_RETRIES", "3")
os.environ.setdefault("CRAWL4AI_NO_CLOUD_NOTICE", "1")
_model_dir = ROOT.parent / "shared" / "models" / "all-MiniLM-L6-v2"
if _model_dir.is_dir():
    os.environ.setdefault("MEMENTO_EMBEDDING_MODEL_DIR", str(_model_dir))

# mcp's stdio client binds sys.stderr as its default errlog when first imported: import it now,
# before a CliRunner swaps sys.stderr for a stream without a file descriptor.
import mcp.client.stdio  # noqa: E402, F401

from scripted_llm import ScriptedLLM  # noqa: E402

MODEL_DIR = Path(os.environ.get("MEMENTO_EMBEDDING_MODEL_DIR") or _model_dir)


@pytest.fixture(autouse=True)
def _release_stores():
    """After each test, close the stores it opened in this process (their files stay open otherwise)."""
    yield
    core = sys.modules.get("memento_graph.memory.core")
    if core is not None:
        core.release_stores()


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch):
    """A scripted OpenAI-compatible server on 127.0.0.1, set as OPENAI_BASE_URL."""
    server = ScriptedLLM().start()
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    yield server
    server.stop()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh MEMENTO_HOME; built-in MCP servers off unless a test switches them on."""
    path = tmp_path / "home"
    monkeypatch.setenv("MEMENTO_HOME", str(path))
    monkeypatch.setenv("MEMENTO_DISABLE_SERVERS", "all")
    return path


@pytest.fixture
def memory(home: Path, monkeypatch: pytest.MonkeyPatch):
    """A fresh memory (real MiniLM, embedded Chroma) for the default user under `home`."""
    from memento_graph.context import Context
    from memento_graph.memory import open_memory

    monkeypatch.setenv("MEMENTO_EMBEDDING_MODEL_DIR", str(MODEL_DIR))
    return open_memory(Context(home=str(home)))


# -- shared stores: a fresh PostgreSQL schema, a Chroma server (tests/test_scale_out.py and others) --
from fixtures.postgres import PG  # noqa: E402


@pytest.fixture
def pg_url():
    """A PostgreSQL URL whose tables live in a fresh schema, dropped afterwards."""
    import uuid

    import psycopg

    schema = f"memento_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{PG}?options=-csearch_path%3D{schema}", schema
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def chroma_url(tmp_path):
    """A Chroma server (`chroma run`) on a free port, its data in tmp_path."""
    import subprocess

    from memento_graph.commands.studio import free_port
    from waiting import wait_until

    port = free_port()
    log = (tmp_path / "chroma.log").open("w")
    chroma = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(tmp_path / "chroma"), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://localhost:{port}"
    import chromadb

    def up() -> bool:
        assert proc.poll() is None, "chroma exited"
        try:
            return bool(chromadb.HttpClient(host="localhost", port=port).heartbeat())
        except Exception:
            return False

    wait_until(up, 30, "the Chroma server")
    yield url
    proc.terminate()
    proc.wait(10)
