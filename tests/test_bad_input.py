"""Bad input swept (issue 16 part 5): every MEMENTO_* variable and every CLI option, property-based.

Each bad value gives one `error:` line naming the variable or option and a non-zero exit, never a
traceback and never silent acceptance. Most checks run the CLI in-process (its real entry point,
`main`); a few run it as a subprocess, as a user does.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import signal
import sys
from dataclasses import fields
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli_run import memento
from memento_graph.context import Context
from memento_graph.errors import MementoError

ROOT = Path(__file__).resolve().parents[1]
FAST = settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# Every MEMENTO_* variable the code reads, by the kind of value it takes. `test_the_list_is_complete`
# fails when src/ reads one this list lacks.
INT, FLOAT, BOOL, TEXT, CHOICE, FRACTION = "int", "float", "bool", "text", "choice", "fraction"
VARIABLES: dict[str, str] = {
    # Context fields
    "MEMENTO_PLANNER_MODEL": TEXT,
    "MEMENTO_EXECUTOR_MODEL": TEXT,
    "MEMENTO_JUDGE_MODEL": TEXT,
    "MEMENTO_TOP_K": INT,
    "MEMENTO_POLICY": CHOICE,
    "MEMENTO_USER": TEXT,
    "MEMENTO_MAX_CYCLES": INT,
    "MEMENTO_MAX_TOOL_CALLS": INT,
    "MEMENTO_CONCURRENCY": INT,
    "MEMENTO_MODEL_TIMEOUT": FLOAT,
    "MEMENTO_PLANNER_MAX_TOKENS": INT,
    "MEMENTO_EXECUTOR_MAX_TOKENS": INT,
    "MEMENTO_EXECUTOR_VISION": BOOL,
    "MEMENTO_TOOL_IMAGE_MAX_BYTES": INT,
    "MEMENTO_SYNTHESIZER_MAX_TOKENS": INT,
    "MEMENTO_JUDGE_MAX_TOKENS": INT,
    "MEMENTO_MAX_SUBTASKS": INT,
    "MEMENTO_LESSONS": BOOL,
    "MEMENTO_LESSON_MAX_TOKENS": INT,
    "MEMENTO_LESSON_FLOOR": FRACTION,
    "MEMENTO_SIMILARITY_FLOOR": FRACTION,
    "MEMENTO_TOOL_CATALOGUE_TOKENS": INT,
    "MEMENTO_HOME": "path",
    "MEMENTO_EMBEDDING_MODEL": TEXT,
    "MEMENTO_EMBEDDING_MODEL_URL": "url",  # http(s) only, checked with every Context (test_setup)
    "MEMENTO_EMBEDDING_MODEL_SHA256": "sha256",  # 64 hex digits, likewise
    "MEMENTO_MCP_CONFIG": "path",
    "MEMENTO_DISABLE_SERVERS": "servers",
    "MEMENTO_TOOL_TIMEOUT": FLOAT,
    "MEMENTO_APPROVE_PLAN": BOOL,
    # process settings (settings.SETTINGS), checked with every Context
    "MEMENTO_MODEL_RETRIES": INT,
    "MEMENTO_RETRY_INITIAL": FLOAT,
    "MEMENTO_TRACE_FLUSH_TIMEOUT": FLOAT,
    "MEMENTO_SERVER_START_TIMEOUT": FLOAT,
    "MEMENTO_STUDIO_START_TIMEOUT": FLOAT,
    "MEMENTO_CASEBANK_WAIT": FLOAT,
    "MEMENTO_NEAR_DUPLICATE": FRACTION,
    "MEMENTO_MAX_CASES": INT,
    "MEMENTO_QUARANTINE_CONFIDENCE": FRACTION,
    "MEMENTO_POLICY_SEED": INT,
    "MEMENTO_CRAWL_TIMEOUT": FLOAT,
    "MEMENTO_CRAWL_BM25_THRESHOLD": FLOAT,
    "MEMENTO_CRAWL_MAX_BYTES": INT,
    "MEMENTO_CRAWL_ALLOW_PRIVATE": BOOL,
    "MEMENTO_MEDIA_TIMEOUT": FLOAT,
    "MEMENTO_SANDBOX_TIMEOUT": FLOAT,
    "MEMENTO_SANDBOX_MEMORY_MB": INT,
    "MEMENTO_SANDBOX_NPROC": INT,
    "MEMENTO_SANDBOX_FSIZE_MB": INT,
    "MEMENTO_SANDBOX_NETWORK": BOOL,
    "MEMENTO_POLICY_EXPLORATION": CHOICE,
    "MEMENTO_JUDGE_SAMPLES": INT,
    "MEMENTO_CODE_BACKEND": CHOICE,
    "MEMENTO_SANDBOX": CHOICE,
    "MEMENTO_SERVER_LOG_LEVEL": CHOICE,
    # addresses, checked where they are used (one line naming them, see the tests below)
    "MEMENTO_CHROMA_URL": "url",
    "MEMENTO_CHECKPOINT_URL": "url",
    "MEMENTO_EXPERIENCE_URL": "url",
    # free text, paths and names: any value is taken as is (a wrong one fails where it is used)
    "MEMENTO_EMBEDDING_MODEL_DIR": "free",
    "MEMENTO_DEBUG": "free",
    "MEMENTO_CRAWL_BROWSER": "free",
    "MEMENTO_SANDBOX_BWRAP": "free",
    "MEMENTO_VISION_MODEL": "free",
    "MEMENTO_TRANSCRIBE_MODEL": "free",
    "MEMENTO_VISION_BASE_URL": "free",
    "MEMENTO_TRANSCRIBE_BASE_URL": "free",
    "MEMENTO_MEDIA_BASE_URL": "free",
    "MEMENTO_MEDIA_API_KEY": "free",
    # set by memento itself for the tool servers, not by users
    "MEMENTO_WORKSPACE": "internal",
    "MEMENTO_READ_ROOTS": "internal",
    "MEMENTO_ROOTS_FILE": "internal",
    "MEMENTO_TEST_KILL_AT": "internal",  # the kill-point sweep of the durability tests
}
CHECKED = {k for k, v in VARIABLES.items() if v in {INT, FLOAT, BOOL, CHOICE, FRACTION}}
POSITIVE = {f"MEMENTO_{n.upper()}" for n in ("max_cycles", "max_tool_calls", "concurrency")} | {
    "MEMENTO_MODEL_TIMEOUT",
    "MEMENTO_PLANNER_MAX_TOKENS",
    "MEMENTO_MAX_SUBTASKS",
    "MEMENTO_TOOL_TIMEOUT",
    "MEMENTO_TOOL_IMAGE_MAX_BYTES",
    "MEMENTO_MODEL_RETRIES",
    "MEMENTO_SERVER_START_TIMEOUT",
    "MEMENTO_MAX_CASES",
    "MEMENTO_SANDBOX_MEMORY_MB",
    "MEMENTO_CRAWL_TIMEOUT",
}


def test_the_list_is_complete():
    """A MEMENTO_* variable read anywhere in src/ (or a Context field's) must be in VARIABLES."""
    found = set()
    for path in (ROOT / "src").rglob("*.py"):
        found |= set(re.findall(r"MEMENTO_[A-Z0-9_]*[A-Z0-9]", path.read_text()))
    found |= {f.metadata.get("env") or f"MEMENTO_{f.name.upper()}" for f in fields(Context)}
    found -= {"MEMENTO_SANDBOX_"}  # a prefix (sandbox.Limits), its names are listed
    assert sorted(found - set(VARIABLES)) == [], "add these to VARIABLES (and check their values)"


@contextlib.contextmanager
def environ(**values: str):
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def bad_values(kind: str, name: str) -> st.SearchStrategy[str]:
    """Values that must be refused for a variable of `kind`."""
    words = st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1
    ).filter(lambda s: not _number(s) and s.strip().lower() not in _TRUE_FALSE)
    numbers = st.sampled_from(["nan", "inf", "-inf", "1e400", "9" * 40, "-1", "-0.5", "0x10"])
    if kind in {INT, FLOAT}:
        floor = ["0"] if name in POSITIVE else []
        return words | numbers | st.sampled_from(floor or ["-3"])
    if kind == FRACTION:
        return words | numbers | st.sampled_from(["1.5", "-0.1", "2"])
    if kind == BOOL:
        return words.filter(lambda s: s.strip().lower() not in _TRUE_FALSE)
    return words.filter(lambda s: s.strip().lower() not in _VALID_CHOICE)


_TRUE_FALSE = {"", "1", "0", "true", "false", "yes", "no", "on", "off"}
_VALID_CHOICE = {"similarity", "learned", "none", "thompson", "greedy", "epsilon", "subprocess",
                 "e2b", "bwrap", "unsafe-none", "debug", "info", "warning", "error", "critical"}  # fmt: skip


def _time(text: str) -> bool:
    from memento_graph.memory.schema import to_timestamp

    try:
        return math.isfinite(to_timestamp(text))
    except (ValueError, OverflowError):
        return False


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("name", sorted(CHECKED))
def test_a_bad_variable_is_one_error_naming_it(name):
    @FAST
    @given(value=bad_values(VARIABLES[name], name))
    def check(value: str) -> None:
        if name == "MEMENTO_POLICY_SEED" and not value.strip():
            return  # empty: no seed
        if name == "MEMENTO_POLICY_EXPLORATION" and re.fullmatch(
            r"epsilon:(0(\.\d*)?|1(\.0*)?|\.\d+)", value.strip().lower()
        ):
            return
        with environ(**{name: value}), pytest.raises(MementoError) as caught:
            Context()
        message = str(caught.value)
        assert name in message and "\n" not in message

    check()


@FAST
@given(
    name=st.sampled_from(sorted(VARIABLES)),
    value=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")),
)
def test_any_value_of_any_variable_is_taken_or_refused_naming_it(name, value, tmp_path):
    """Never another exception: a value is taken (and then in range) or refused by name."""
    value = value if name != "MEMENTO_HOME" else str(tmp_path / "h" / value.replace("/", "_"))
    with environ(**{name: value}):
        try:
            ctx = Context()
        except MementoError as exc:
            assert name in str(exc) or name.removeprefix("MEMENTO_").lower() in str(exc)
            return
    assert ctx.top_k >= 0 and ctx.max_cycles > 0 and ctx.model_timeout > 0


# -- the command line ---------------------------------------------------------------------------------
class Hung(BaseException):
    """A command that took bad input for good and kept working (raised past `main`'s handlers)."""


def _hung(*_: object) -> None:
    raise Hung


def run_main(*args: str, stdin: str = "", limit: int = 60) -> tuple[int, str, str]:
    """Run the CLI's entry point in this process; return (exit code, stdout, stderr)."""
    from memento_graph.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv, sys.argv = sys.argv, ["memento", *args]
    stdin_was, sys.stdin = sys.stdin, io.StringIO(stdin)
    signal.signal(signal.SIGALRM, _hung)
    signal.alarm(limit)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        signal.alarm(0)
        sys.argv, sys.stdin = argv, stdin_was
    return code, out.getvalue(), err.getvalue()


def one_error(code: int, stderr: str, *names: str) -> str:
    assert code != 0, stderr
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, stderr
    assert not names or any(n in errors[0] for n in names), (names, errors[0])
    return errors[0]


INTS = st.sampled_from(["abc", "-1", "0", "-99999999999999999999", "9" * 30, "1.5", "٣x", "nan"])
TEXT_VALUES = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=30,
)


@pytest.fixture
def offline(home, monkeypatch):
    """A data directory and a model endpoint nobody listens on (errors must come before any call)."""
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    return home


def _id(part: object) -> str:
    """A test id stable across processes (pytest-xdist): sets sorted, lists joined."""
    if isinstance(part, set):
        return "|".join(sorted(part)) or "-"
    return " ".join(part) if isinstance(part, list) else str(part)


# Integer options: (args before the option, option, values that are fine: not refused).
INT_OPTIONS = [
    (["threads"], "--limit", set()),
    (["cases", "list"], "--limit", {"0"}),
    (["cases", "list"], "--offset", {"0"}),
    (["cases", "search", "q"], "-k", set()),
    (["feedback", "t1"], "--reward", {"0"}),  # 0 and 1 are rewards: t1 is no thread
    (["eval", "DATA"], "--iterations", set()),
    (["eval", "DATA"], "--seeds", set()),
    (["eval", "DATA"], "--concurrency", set()),
    (["eval", "DATA"], "--limit", set()),
    (["studio"], "--port", set()),
]


@pytest.mark.parametrize(("before", "option", "fine"), INT_OPTIONS, ids=lambda x: _id(x))
def test_a_bad_number_option_is_one_error_naming_it(offline, tmp_path, before, option, fine):
    data = tmp_path / "data.jsonl"
    data.write_text('{"question": "2+2?", "answer": "4"}\n')
    before = [str(data) if b == "DATA" else b for b in before]

    @settings(max_examples=6, deadline=None)
    @given(value=INTS)
    def check(value: str) -> None:
        if value in fine:
            return
        code, _, err = run_main(*before, option, value)
        one_error(code, err, option, "--" + option.lstrip("-"))

    check()


# Choice and text options: (args, option, valid values).
CHOICE_OPTIONS = [
    (["run", "2+2?"], "--policy", {"similarity", "learned", "none"}),
    (["cases", "list"], "--status", {"active", "quarantined", "retired"}),
    (["resume", "t1"], "--decision", {"approve", "reject"}),
    (["eval", "DATA"], "--memory", {"none", "similarity", "learned"}),
    (["eval", "DATA"], "--metric", {"em", "f1", "pm", "judge"}),
    (["eval", "DATA"], "--format", {"auto", "jsonl", "deepresearcher", "gaia", "simpleqa"}),
    (["cases", "dedupe"], "--threshold", set()),
    (["cases", "rollback"], "--since", set()),
    (["tools"], "--disable", set()),
    (["tools", "call", "math", "add"], "--args", set()),
]


@pytest.mark.parametrize(("before", "option", "valid"), CHOICE_OPTIONS, ids=lambda x: _id(x))
def test_a_bad_choice_option_is_one_error_naming_it(offline, tmp_path, before, option, valid):
    data = tmp_path / "data.jsonl"
    data.write_text('{"question": "2+2?", "answer": "4"}\n')
    before = [str(data) if b == "DATA" else b for b in before]

    @settings(max_examples=8, deadline=None)
    @given(value=TEXT_VALUES | st.sampled_from(["nan", "-1", "2", "../x", "{", "[]", " "]))
    def check(value: str) -> None:
        if value.strip() in valid or (option == "--disable" and not value.strip()):
            return
        if option == "--threshold" and _number(value) and 0 <= float(value) <= 1:
            return
        if option == "--since" and _time(value):
            return
        if option == "--args" and value.strip().startswith("{"):
            value = "{" + value  # never a valid object
        code, _, err = run_main(*before, option, value)
        one_error(code, err, option, option.lstrip("-"))

    check()


THREAD_IDS = st.sampled_from(
    ["../x", "a/b", "/etc/passwd", "..", "a..b", " ", "x" * 300, "é/ü"]
) | (st.text(min_size=1, max_size=20).map(lambda s: s + "/../" + s))


@FAST
@given(thread_id=THREAD_IDS)
def test_a_path_in_a_thread_id_is_one_error(offline, thread_id):
    code, _, err = run_main("run", "What is 2+2?", "--thread-id", thread_id)
    one_error(code, err, "--thread-id")
    for args in (["resume", thread_id], ["threads", "show", thread_id], ["feedback", thread_id]):
        code, _, err = run_main(*args, *(["--reward", "1"] if args[0] == "feedback" else []))
        one_error(code, err, "unknown thread", "no episode", "thread")
    assert not list(offline.glob("**/*passwd*")) and not (offline.parent / "x").exists()


def test_files_that_are_folders_binary_or_missing_are_one_error(offline, tmp_path):
    folder, binary = tmp_path / "folder", tmp_path / "blob.bin"
    folder.mkdir()
    binary.write_bytes(bytes(range(256)) * 64)
    for bad in (folder, tmp_path / "missing.txt"):
        one_error(*run_main("run", "What is 2+2?", "--file", str(bad))[::2], str(bad))
    for bad in (folder, binary, tmp_path / "missing.json"):
        for args in (
            ["run", "What is 2+2?", "--mcp-config", str(bad)],
            ["tools", "--mcp-config", str(bad)],
            ["resume", "t1", "--plan", str(bad)],
            ["eval", str(bad)],
            ["cases", "import", str(bad)],
        ):
            one_error(*run_main(*args)[::2], str(bad), bad.name)
    one_error(*run_main("cases", "export", str(folder))[::2], str(folder))


@settings(FAST, max_examples=8)
@given(case_id=THREAD_IDS | TEXT_VALUES)
def test_unknown_case_ids_and_users_are_one_error(offline, case_id):
    for args in (["show"], ["delete", "--yes"], ["quarantine"], ["restore"]):
        code, _, err = run_main("cases", args[0], case_id, *args[1:])
        one_error(code, err, "no case")
    for args in (["cases", "list"], ["feedback", "t1", "--reward", "1"], ["run", "2+2?"]):
        one_error(*run_main(*args, "--user", " ")[::2], "user")


def test_eval_output_and_split_options_are_one_error(offline, tmp_path):
    data, afile = tmp_path / "data.jsonl", tmp_path / "afile"
    data.write_text('{"question": "2+2?", "answer": "4"}\n')
    afile.write_text("x")
    one_error(*run_main("eval", str(data), "--out", str(afile))[::2], "--out")
    one_error(*run_main("eval", str(data), "--split-by", "nosuch")[::2], "--split-by")


def test_tasks_empty_or_huge_are_one_error(offline):
    for task in ("", "   ", "\n\t"):
        one_error(*run_main("run", task)[::2], "task")
    one_error(*run_main("run", "x" * (5 * 1024 * 1024))[::2], "task")


def test_a_binary_file_is_a_valid_attachment(llm, home, tmp_path):
    """Images and other binary files are what the media tools read: attaching one is no error."""
    from roles import script_task

    blob = tmp_path / "photo.png"
    blob.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16)
    script_task(llm, ["look at it"], "a photo")
    code, out, err = run_main("run", "What is in the photo?", "--file", str(blob))
    assert code == 0, err
    assert "Traceback" not in err


# -- as a user runs it: a real process -----------------------------------------------------------------
@pytest.mark.integration
def test_as_a_subprocess_bad_input_is_one_line(offline, tmp_path):
    cases = [
        (["threads", "--limit", "-5"], {}, "--limit"),
        (["threads"], {"MEMENTO_MAX_CYCLES": "nan"}, "MEMENTO_MAX_CYCLES"),
        (["run", "2+2?"], {"MEMENTO_STUDIO_START_TIMEOUT": "soon"}, "MEMENTO_STUDIO_START_TIMEOUT"),
        (["run", "2+2?", "--thread-id", "../../etc"], {}, "--thread-id"),
        (["run", "2+2?", "--file", str(tmp_path)], {}, str(tmp_path)),
        (["studio", "--port", "99999"], {}, "--port"),
        (["cases", "list"], {"MEMENTO_HOME": str(Path(__file__))}, "MEMENTO_HOME"),
    ]
    for args, env, name in cases:
        proc = memento(*args, env={**os.environ, **env})
        one_error(proc.returncode, proc.stderr, name)
