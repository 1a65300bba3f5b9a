"""`memento cases ...` and `memento feedback` through typer's CliRunner."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from fixtures.episodes import finish
from memento_graph.commands.cases import app
from memento_graph.commands.feedback import feedback
from memento_graph.context import Context
from memento_graph.errors import MementoError
from memento_graph.memory import open_memory

runner = CliRunner()


@pytest.fixture
def bank(memory):
    """A memory with three cases (one for user bob)."""
    cases = [
        finish(memory, "t1", "Who discovered radium?", plan="search Curie"),
        finish(memory, "t2", "Who discovered penicillin?", reward=0.0),
    ]
    finish(open_memory(Context(user="bob")), "b1", "Who discovered America?")
    return memory, cases


def cli(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


def test_list_show_search(bank):
    memory, (radium, penicillin) = bank
    out = cli("list", "--json")
    assert out.exit_code == 0
    assert {c["id"] for c in json.loads(out.output)} == {radium["id"], penicillin["id"]}
    assert radium["id"] in cli("list").output
    shown = json.loads(cli("show", radium["id"]).output)
    assert shown["plan"] == "search Curie" and shown["provenance"]["thread_id"] == "t1"
    hits = json.loads(cli("search", "radium discovery", "-k", "1", "--json").output)
    assert [h["id"] for h in hits] == [radium["id"]]
    bob = json.loads(cli("list", "--json", "--user", "bob").output)
    assert [c["task"] for c in bob] == ["Who discovered America?"]


def test_list_pages_newest_first(bank):
    memory, (radium, penicillin) = bank
    pages = [json.loads(cli("list", "--json", "--limit", "1", "--offset", n).output) for n in "012"]
    assert [[c["id"] for c in page] for page in pages] == [[penicillin["id"]], [radium["id"]], []]
    assert pages[0][0]["usage"]["times_retrieved"] == 0
    retired = cli("list", "--json", "--status", "retired", "--offset", "0")
    assert json.loads(retired.output) == []
    assert isinstance(cli("list", "--offset", "-1").exception, MementoError)


def test_stats_without_usage_says_so(bank):
    out = cli("stats", "--user", "nobody")
    assert out.exit_code == 0 and "0 case(s) for user nobody" in out.output
    assert "no usage yet" in out.output and "{" not in out.output
    data = json.loads(cli("stats", "--json", "--user", "nobody").output)
    assert data["total"] == 0 and data["most_useful"] == [] and data["mean_reward"] is None


def test_quarantine_restore_delete(bank):
    memory, (radium, _) = bank
    assert cli("quarantine", radium["id"], "--reason", "wrong person").exit_code == 0
    assert memory.get_case(radium["id"])["status"] == "quarantined"
    listed = json.loads(cli("list", "--status", "quarantined", "--json").output)
    assert [c["id"] for c in listed] == [radium["id"]]
    assert cli("restore", radium["id"]).exit_code == 0
    assert memory.get_case(radium["id"])["status"] == "active"
    assert cli("delete", radium["id"], input="n\n").exit_code != 0
    assert memory.get_case(radium["id"]) is not None
    assert cli("delete", radium["id"], "--yes").exit_code == 0
    assert memory.get_case(radium["id"]) is None


def test_rollback_dedupe_stats(bank):
    memory, (radium, penicillin) = bank
    out = cli("rollback", "--since", "2000-01-01")
    assert out.exit_code == 0 and "retired 2" in out.output
    assert cli("restore", radium["id"]).exit_code == 0
    assert "merged 0" in cli("dedupe").output
    data = json.loads(cli("stats", "--json").output)
    assert data["total"] == 2 and data["by_status"] == {"active": 1, "retired": 1}
    assert data["by_label"] == {"positive": 1, "negative": 1} and data["on_trial"] == 0
    assert "case(s) for user default" in cli("stats").output
    memory.bank.cases.update(penicillin["id"], status="quarantined")  # a write the index missed
    assert json.loads(cli("stats", "--json").output)["by_status"] == {"active": 1, "retired": 1}
    data = json.loads(cli("stats", "--json", "--recount").output)
    assert data["by_status"] == {"active": 1, "quarantined": 1}


def test_export_import(bank, tmp_path):
    out = tmp_path / "cases.jsonl"
    assert "exported 2" in cli("export", str(out)).output
    assert cli("export", str(out)).exit_code != 0
    result = cli("import", str(out), "--user", "eve")
    assert (
        result.exit_code == 0 and "imported 2" in result.output and "re-embedded 0" in result.output
    )
    assert len(json.loads(cli("list", "--json", "--user", "eve").output)) == 2


@pytest.mark.parametrize(
    "args",
    [
        ("show", "nope"),
        ("quarantine", "nope"),
        ("list", "--status", "odd"),
        ("search", " "),
        ("rollback", "--since", "yesterday"),
        ("import", "/no/such/file.jsonl"),
    ],  # fmt: skip
)
def test_bad_input_is_a_memento_error(bank, args):
    out = cli(*args)
    assert out.exit_code != 0 and isinstance(out.exception, MementoError)


def test_feedback_command(bank):
    memory, (radium, _) = bank
    fb = typer.Typer()
    fb.command()(feedback)
    out = runner.invoke(fb, ["t1", "--reward", "0", "--note", "it was the Curies"])
    assert out.exit_code == 0 and f"case {radium['id']} now reward 0" in out.output
    assert memory.get_case(radium["id"])["judge"]["source"] == "user"
    assert memory.episode("t1")["note"] == "it was the Curies"
    for args in (["t1", "--reward", "2"], ["unknown", "--reward", "1"]):
        bad = runner.invoke(fb, args)
        assert bad.exit_code != 0 and isinstance(bad.exception, MementoError)
