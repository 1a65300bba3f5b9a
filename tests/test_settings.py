"""One source of settings: every variable defined once, documented from its definition, read when used."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from memento_graph.context import Context, env_name
from memento_graph.errors import MementoError
from memento_graph.settings import LIBRARY, SETTINGS, Settings
from memento_graph.settings_table import table

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- settings table: generated -->\n", "\n<!-- settings table: end -->"
DEFINED = {env_name(f) for f in fields(Context)} | {s.env for s in Settings.all()}


def readme_table() -> str:
    text = (ROOT / "README.md").read_text()
    return text.split(BEGIN, 1)[1].split(END, 1)[0]


def test_the_readme_table_is_generated_from_the_definitions():
    assert readme_table() == table(), (
        "README.md's configuration table is stale: replace it with the output of "
        "`python -m memento_graph.settings_table`"
    )


def test_every_variable_in_the_code_is_defined_once():
    """A MEMENTO_* name in src/ is a Context field's or a Setting's variable, never both."""
    named = set()
    for path in (ROOT / "src").rglob("*.py"):
        named |= set(re.findall(r"MEMENTO_[A-Z0-9_]*[A-Z0-9]", path.read_text()))
    named -= {"MEMENTO_SANDBOX_"}  # the prefix of the sandbox limits, in docstrings
    assert sorted(named - DEFINED) == [], "define these in Context or Settings"
    contexts = {env_name(f) for f in fields(Context)}
    assert sorted(contexts & {s.env for s in Settings.all()}) == []


def test_the_readme_names_no_variable_that_does_not_exist():
    text = (ROOT / "README.md").read_text()
    named = set(re.findall(r"\b(?:MEMENTO|OPENAI|LANGSMITH|E2B|SEARXNG)_[A-Z0-9_]*[A-Z0-9]", text))
    assert sorted(named - DEFINED - set(LIBRARY)) == []


def test_other_programs_variables_read_in_src_are_listed():
    """os.environ.get("X") of a variable memento does not define must be in LIBRARY."""
    read = set()
    for path in (ROOT / "src").rglob("*.py"):
        read |= set(re.findall(r"os\.environ(?:\.get\(|\[)\"([A-Z0-9_]+)\"", path.read_text()))
    assert sorted(read - DEFINED - set(LIBRARY)) == []


def test_every_setting_is_described_and_typed():
    for f in fields(Context):
        assert f.metadata["description"].strip() and f.type, f.name
    for setting in Settings.all():
        assert setting.description.endswith(".") and setting.kind, setting.env


@pytest.mark.integration
def test_settings_are_read_when_used_not_at_import():
    """Bad values do not break an import; they are refused when read (one line naming them)."""
    bad = {
        "MEMENTO_MODEL_RETRIES": "many",
        "MEMENTO_MAX_CASES": "lots",
        "MEMENTO_SERVER_START_TIMEOUT": "soon",
        "MEMENTO_CRAWL_TIMEOUT": "soon",
        "MEMENTO_MEDIA_TIMEOUT": "soon",
    }
    modules = [
        "memento_graph.graph",
        "memento_graph.server_graph",
        "memento_graph.toolbox",
        "memento_graph.memory.lifecycle",
        "memento_graph.mcp_servers.crawl",
        "memento_graph.mcp_servers.media",
        "memento_graph.mcp_servers.sandbox",
        "memento_graph.cli",
        "memento_graph.app",
    ]
    code = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
    env = {**__import__("os").environ, **bad}
    proc = subprocess.run(
        [sys.executable, "-c", code, *modules], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_a_setting_changed_after_import_takes_effect(monkeypatch):
    from memento_graph.graph import graph_builder

    monkeypatch.setenv("MEMENTO_MODEL_RETRIES", "2")
    assert graph_builder().nodes["plan"].retry_policy.max_attempts == 2
    monkeypatch.setenv("MEMENTO_MODEL_RETRIES", "5")
    assert graph_builder().nodes["plan"].retry_policy.max_attempts == 5
    monkeypatch.setenv("MEMENTO_MAX_CASES", "7")
    assert SETTINGS.max_cases == 7
    monkeypatch.setenv("MEMENTO_MAX_CASES", "0")
    with pytest.raises(MementoError, match=r"^MEMENTO_MAX_CASES='0' must be positive$"):
        _ = SETTINGS.max_cases


def test_values_are_typed_and_choices_normalised(monkeypatch):
    for name in ("MEMENTO_POLICY_SEED", "MEMENTO_SANDBOX", "MEMENTO_CRAWL_ALLOW_PRIVATE"):
        monkeypatch.delenv(name, raising=False)
    assert (
        SETTINGS.policy_seed is None and SETTINGS.sandbox == "" and not SETTINGS.crawl_allow_private
    )
    monkeypatch.setenv("MEMENTO_POLICY_SEED", "12")
    monkeypatch.setenv("MEMENTO_SERVER_LOG_LEVEL", " info ")
    monkeypatch.setenv("MEMENTO_POLICY_EXPLORATION", "Epsilon:0.2")
    monkeypatch.setenv("MEMENTO_CRAWL_ALLOW_PRIVATE", "yes")
    assert SETTINGS.policy_seed == 12 and SETTINGS.server_log_level == "INFO"
    assert SETTINGS.policy_exploration == "epsilon:0.2" and SETTINGS.crawl_allow_private is True
    monkeypatch.setenv("MEMENTO_POLICY_EXPLORATION", "epsilon:2")
    with pytest.raises(
        MementoError, match="MEMENTO_POLICY_EXPLORATION='epsilon:2' must be at most"
    ):
        SETTINGS.check()
