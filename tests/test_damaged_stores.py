"""Damaged stores (issue 16 part 6): a truncated or corrupted store is one line naming the file and
what to do, in every command that opens it; `memento doctor` finds it, `--repair` moves it aside (never
deletes) and the other stores keep their content throughout.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from cli_run import memento
from roles import script_task
from scripted_llm import ScriptedLLM

pytestmark = pytest.mark.integration  # processes: see conftest.py

STORES = ("threads", "runs", "experience", "casebank", "policy")
FILES = {
    "threads": "threads.sqlite",
    "runs": "runs.sqlite",
    "experience": "experience.sqlite",
    "casebank": "casebank/chroma.sqlite3",
    "policy": "experience.sqlite",
}
# The commands that open each store (a run opens them all).
OPENERS = {
    "threads": [["threads", "show", "t0"]],
    "runs": [["threads"], ["threads", "show", "t0"]],
    "experience": [["cases", "list"], ["cases", "stats"]],
    "casebank": [["cases", "list"]],
    "policy": [],
}


@pytest.fixture(scope="module")
def server():
    llm = ScriptedLLM().start()
    script_task(llm, ["look it up"], "42")
    yield llm
    llm.stop()


def env_for(home: Path, server: ScriptedLLM) -> dict[str, str]:
    return {
        **os.environ,
        "MEMENTO_HOME": str(home),
        "MEMENTO_DISABLE_SERVERS": "all",
        "OPENAI_BASE_URL": server.base_url,
        "OPENAI_API_KEY": "test",
        "MEMENTO_CASEBANK_WAIT": "5",
    }


@pytest.fixture(scope="module")
def template(tmp_path_factory, server) -> Path:
    """A data directory with every store filled: two learned-policy runs (t0, t1), one case."""
    home = tmp_path_factory.mktemp("template") / "home"
    for i, task in enumerate(["What is six times seven?", "What is six times seven, exactly?"]):
        proc = memento(
            "run", task, "--policy", "learned", "--thread-id", f"t{i}", env=env_for(home, server)
        )
        assert proc.returncode == 0, proc.stderr
    assert contents(home)["policy"], "the second run trains the learned policy"
    for name in ("threads.sqlite", "runs.sqlite", "experience.sqlite"):
        # a process may exit without closing a store, leaving its last commits in the WAL file; SQLite
        # then reads them (page 1 included) from there, and a damaged main file would go unnoticed
        with contextlib.closing(sqlite3.connect(home / name)) as conn:
            busy, _, _ = conn.execute("pragma wal_checkpoint(truncate)").fetchone()
        wal = home / f"{name}-wal"
        assert not busy and (not wal.exists() or wal.stat().st_size == 0), name
    return home


def contents(home: Path) -> dict[str, object]:
    """What each store holds (None when it cannot be read)."""

    def query(name: str, sql: str) -> object:
        try:
            with sqlite3.connect(home / name) as conn:
                return sorted(conn.execute(sql).fetchall())
        except sqlite3.DatabaseError:
            return None

    return {
        "threads": query("threads.sqlite", "select distinct thread_id from checkpoints"),
        "runs": query("runs.sqlite", "select thread_id, task from threads"),
        "experience": query("experience.sqlite", "select thread_id, reward from episodes"),
        "policy": query("experience.sqlite", "select key, length(state) from policy_state"),
        "casebank": query("casebank/chroma.sqlite3", "select count(*) from embeddings"),
    }


def damage(home: Path, store: str, how: str) -> Path:
    """Truncate a store to half, or overwrite its header with garbage; return its file."""
    path = home / FILES[store]
    if store == "policy":
        with sqlite3.connect(path) as conn:
            (blob,) = conn.execute("select state from policy_state").fetchone()
            bad = blob[: len(blob) // 2] if how == "half" else os.urandom(len(blob))
            conn.execute("update policy_state set state = ?", [bad])
        return path
    data = path.read_bytes()
    data = data[: len(data) // 2] if how == "half" else b"\x8bnot sqlite\xff" * 10 + data[120:]
    path.write_bytes(data)
    return path


def error_line(proc) -> str:
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def others_intact(before: dict, after: dict, damaged: str) -> None:
    """Every store but the damaged one (and its file's other contents) still holds what it held."""
    skip = {damaged} | ({"policy"} if damaged == "experience" else set())
    for store, held in before.items():
        if store in skip:
            continue
        if store == "runs":  # a failed run adds its row: the old rows are all still there
            assert set(held) <= set(after["runs"]), (store, after[store])
        elif store == "threads":
            assert set(held) <= set(after["threads"]), (store, after[store])
        else:
            assert after[store] == held, (store, held, after[store])


@pytest.mark.parametrize("how", ["half", "garbage"])
@pytest.mark.parametrize("store", STORES)
def test_a_damaged_store_is_one_line_and_doctor_repairs_it(template, server, tmp_path, store, how):
    home = tmp_path / "home"
    shutil.copytree(template, home)
    before = contents(home)
    path = damage(home, store, how)
    env = env_for(home, server)
    for args in OPENERS[store]:
        line = error_line(memento(*args, env=env))
        assert f"{path} " in line or f"{home / 'casebank'} " in line, line
        assert "is damaged" in line and "memento doctor --repair" in line, line
    if how == "half" or store == "policy":  # a run opens every store: it names the damaged one
        line = error_line(
            memento("run", "What is six times seven?", "--policy", "learned", env=env)
        )
        assert "is damaged" in line and "memento doctor --repair" in line, line
        assert str(home / ("casebank" if store == "casebank" else FILES[store])) in line, line
    others_intact(before, contents(home), store)

    checked = memento("doctor", env=env)
    assert store in error_line(checked) and "memento doctor --repair" in checked.stderr
    assert "damaged" in checked.stdout

    repaired = memento("doctor", "--repair", env=env)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "repaired:" in repaired.stdout and "damaged" not in repaired.stderr
    after = contents(home)
    others_intact(before, after, store)
    if store == "policy":  # the unreadable state is saved beside the store, and the row reset
        assert list(home.glob("policy-state.damaged-*")) and after["policy"] == []
        assert after["experience"] == before["experience"]
    else:
        moved = list(path.parent.glob(f"{path.name}.damaged-*")) or list(
            home.glob("casebank.damaged-*")
        )
        assert moved, list(home.iterdir())
    if store == "runs":  # the thread index is rebuilt from the checkpoints
        assert {t for t, _ in after["runs"]} >= {"t0", "t1"}
    assert memento("doctor", env=env).returncode == 0
    for args in OPENERS[store]:
        proc = memento(*args, env=env)
        assert proc.returncode in (0, 2) and "damaged" not in proc.stderr, proc.stderr


def test_a_run_stopped_by_a_damaged_store_resumes_after_repair(template, server, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(template, home)
    before = contents(home)
    damage(home, "experience", "garbage")
    env = env_for(home, server)
    proc = memento("run", "What is six times seven?", "--thread-id", "t2", "--json", env=env)
    assert "experience.sqlite is damaged" in error_line(proc)
    assert json.loads(proc.stdout)["error"] in error_line(proc)  # --json says the same
    assert memento("doctor", "--repair", env=env).returncode == 0
    proc = memento("resume", "t2", env=env)
    assert proc.returncode == 0, proc.stderr
    after = contents(home)
    assert {t for (t,) in after["threads"]} >= {"t0", "t1", "t2"}
    assert after["casebank"] == before["casebank"]  # the same case, merged (near-duplicate task)
    assert [t for t, _ in after["experience"]] == ["t2"]  # episodes start afresh
