"""`memento eval --cases`: the memory starts from a case file; seen questions are warned about or left out."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from memento_graph.commands.eval import app
from memento_graph.context import Context
from memento_graph.memory import open_memory
from test_eval_e2e import QUESTIONS, script_eval

CASES = [
    {"case": "Who wrote Hamlet?", "plan": '{"plan": [{"id": 1, "description": "Look up: Who wrote Hamlet?"}]}', "case_label": "positive"},  # same text
    {"case": "Which river runs through Paris?", "plan": '{"plan": []}', "case_label": "positive"},  # 0.95
    {"case": "How tall is Mount Everest?", "plan": '{"plan": []}', "case_label": "negative"},  # unrelated
]  # fmt: skip


def files(tmp_path: Path) -> tuple[Path, Path]:
    data = tmp_path / "qa.jsonl"
    data.write_text(
        "".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in QUESTIONS.items())
    )
    cases = tmp_path / "memory.jsonl"
    cases.write_text("".join(json.dumps(c) + "\n" for c in CASES))
    return data, cases


def records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def test_eval_starts_from_the_cases_and_warns_about_questions_already_in_them(llm, home, tmp_path):
    script_eval(llm)
    data, cases = files(tmp_path)
    out = tmp_path / "out"
    args = [str(data), "--cases", str(cases), "--out", str(out), "--no-judge", "--control"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (
        "warning: 2 of 4 questions are already in the case bank (1 same text, 1 near-duplicates "
        "at similarity >= 0.8)" in " ".join(result.stderr.split())
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seen"] == {
        "checked": 4, "exact": 1, "near": 1, "similarity": 0.8, "excluded": False
    }  # fmt: skip
    assert "seen in the case bank: 2 of 4 questions (included" in result.output
    by_question = {(r["arm"], r["question"]): r for r in records(out)}
    assert len(by_question) == 8
    # the seeded case answers its own question in the first pass; the control has no memory
    assert by_question[("memory", "Who wrote Hamlet?")]["scores"]["em"] == 1.0
    assert by_question[("control", "Who wrote Hamlet?")]["scores"]["em"] == 0.0
    home_dir = str(out / "home")
    seeded = open_memory(Context(home=home_dir, user="eval-memory-s0")).list_cases(limit=100)
    assert {c["case"] for c in CASES} <= {c["task"] for c in seeded}
    assert open_memory(Context(home=home_dir, user="eval-control-s0")).list_cases() == []

    again = CliRunner().invoke(app, args)  # a rerun: nothing imported twice, nothing redone
    assert again.exit_code == 0, again.output
    reseeded = open_memory(Context(home=home_dir, user="eval-memory-s0")).list_cases(limit=100)
    assert len(reseeded) == len(seeded)


def test_exclude_seen_leaves_those_questions_out_and_says_how_many(llm, home, tmp_path):
    script_eval(llm)
    data, cases = files(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, [str(data), "--cases", str(cases), "--exclude-seen", "--out", str(out), "--no-judge"]
    )
    assert result.exit_code == 0, result.output
    assert "left out (--exclude-seen), 2 remain" in " ".join(result.stderr.split())
    assert {r["question"] for r in records(out)} == {
        "What is the capital of Columbia County?",
        "How many legs does a spider have?",
    }
    assert json.loads((out / "summary.json").read_text())["seen"]["excluded"] is True
    assert "seen in the case bank: 2 of 4 questions (left out)" in result.output
    stricter = CliRunner().invoke(  # another filter into the same --out is refused
        app, [str(data), "--cases", str(cases), "--out", str(out), "--no-judge"]
    )
    assert stricter.exit_code != 0 and "seen_filter" in stricter.stderr


def test_a_stricter_similarity_counts_only_the_same_text(llm, home, tmp_path):
    script_eval(llm)
    data, cases = files(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, [str(data), "--cases", str(cases), "--exclude-seen", "--seen-similarity", "0.99",
              "--out", str(out), "--no-judge", "--limit", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1 of 4 questions are already in the case bank (1 same text, 0 near" in " ".join(
        result.stderr.split()
    )
    assert {r["question"] for r in records(out)} == {  # --limit counts the questions kept
        "Which river flows through Paris?",  # (records come in the order items finish)
        "What is the capital of Columbia County?",
    }


def test_bad_seen_options_are_one_line_errors(llm, home, tmp_path):
    data, cases = files(tmp_path)
    for args, message in [
        (["--exclude-seen"], "error: --exclude-seen needs --cases"),
        (["--cases", str(tmp_path / "nope.jsonl")], "error: --cases"),
        (["--cases", str(cases), "--seen-similarity", "0"], "error: --seen-similarity must be"),
        (["--cases", str(cases), "--seen-similarity", "nan"], "error: --seen-similarity must be"),
    ]:
        result = CliRunner().invoke(app, [str(data), "--out", str(tmp_path / "o"), *args])
        assert result.exit_code != 0 and "Traceback" not in result.output
        assert result.stderr.strip().startswith(message), result.stderr
    everything = tmp_path / "all.jsonl"
    everything.write_text(
        "".join(
            json.dumps({"case": q, "plan": "p", "case_label": "positive"}) + "\n" for q in QUESTIONS
        )
    )
    result = CliRunner().invoke(
        app, [str(data), "--cases", str(everything), "--exclude-seen", "--out", str(tmp_path / "e")]
    )
    assert result.exit_code != 0
    assert "error: every question is already in the case bank" in result.stderr
