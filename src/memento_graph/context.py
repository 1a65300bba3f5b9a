"""Run-time settings of the agent (LangGraph `context_schema`).

Every field carries a description (Studio shows them as a form) and falls back to an environment
variable, `MEMENTO_<FIELD>` unless the field names another. Settings of the process rather than
of a run (stores, tool servers, sandbox, retries, lifecycle) are in settings.py, checked with
every Context.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import platformdirs

from memento_graph.errors import MementoError

# The archive Chroma's default embedding function downloads (chromadb 1.x,
# chromadb/utils/embedding_functions/onnx_mini_lm_l6_v2.py: MODEL_DOWNLOAD_URL, _MODEL_SHA256).
MODEL_URL = "https://chroma-onnx-models.s3.amazonaws.com/all-MiniLM-L6-v2/onnx.tar.gz"
MODEL_SHA256 = "913d7300ceae3b2dbc2c50d1de4baacab4be7b9380491c27fab7418616a16ec3"


def default_home() -> str:
    """Return the data directory: `MEMENTO_HOME` or the per-user data dir."""
    return os.environ.get("MEMENTO_HOME") or platformdirs.user_data_dir("memento-graph")


def _env_field(default: Any, description: str, env: str | None = None, shown: str = "") -> Any:
    return field(default=default, metadata={"description": description, "env": env, "shown": shown})


def env_name(f: Any) -> str:
    """Return the environment variable of a Context field: `MEMENTO_<FIELD>` unless it names one."""
    return f.metadata.get("env") or f"MEMENTO_{f.name.upper()}"


@dataclass(kw_only=True)
class Context:
    """Settings for one run of the Memento loop."""

    planner_model: str = _env_field(
        "gpt-4o-mini", "Model that writes the plan (meta-planner) and the final answer."
    )
    executor_model: str = _env_field("gpt-4o-mini", "Model that executes each subtask with tools.")
    judge_model: str = _env_field(
        "gpt-4o-mini", "Model that judges the answer when no ground truth is given."
    )
    top_k: int = _env_field(4, "How many past cases to show the planner (K=4 is the paper's best).")
    policy: str = _env_field(
        "similarity",
        "Case-selection policy: similarity (top-K cosine), learned (online-trained), "
        "or none (memory off: no retrieval, no write).",
    )
    user: str = _env_field("default", "Namespace that keeps each user's cases apart.")
    max_cycles: int = _env_field(
        3, "Most planning cycles (plan, execute, replan) before answering."
    )
    max_tool_calls: int = _env_field(8, "Most tool calls one subtask may make.")
    concurrency: int = _env_field(4, "Most subtasks executed at the same time.")
    model_timeout: float = _env_field(
        120.0,
        "Seconds of silence before a model call times out: replies are streamed, so a slow but "
        "steady local model is never cut off; a stuck endpoint is.",
    )
    planner_max_tokens: int = _env_field(
        2048, "Most tokens of one planner reply (plan JSON or final answer)."
    )
    executor_max_tokens: int = _env_field(1024, "Most tokens of one executor reply.")
    executor_vision: bool = _env_field(
        False,
        "Show the executor model the images tools return (PNG, JPEG, GIF, WebP; at most 4 of "
        "one result), as image content in a user message after the tool results; off (for "
        "text-only models) it reads a placeholder with the image's type and size.",
    )
    tool_image_max_bytes: int = _env_field(
        5_242_880, "Largest image (bytes) of a tool result shown to the executor model."
    )
    synthesizer_max_tokens: int = _env_field(512, "Most tokens of the best-effort answer.")
    judge_max_tokens: int = _env_field(512, "Most tokens of the LLM judge's reply.")
    judge_samples: int = _env_field(
        2,
        "Times the LLM judge is asked (1 or 2) when no ground truth is given: two verdicts that "
        "disagree make the reward weigh little.",
    )
    max_subtasks: int = _env_field(8, "Most subtasks in one plan.")
    lessons: bool = _env_field(
        True,
        "Distil a short lesson into each new case (what worked, or the pitfall to avoid): one "
        "more planner-model call per episode; a failed or cut call only leaves the case without.",
    )
    lesson_max_tokens: int = _env_field(200, "Most tokens of one lesson reply.")
    lesson_floor: float = _env_field(
        0.3,
        "A lesson is shown while its usefulness, (up + 1) / (up + down + 2) over the votes of "
        "the episodes it was shown to (success up, failure down), is at least this.",
    )
    similarity_floor: float = _env_field(
        0.4,
        "Cases whose task is less similar (cosine) than this are not shown to the planner; "
        "0.4 is about the 99th percentile of unrelated questions under all-MiniLM-L6-v2; "
        "0 turns the floor off.",
    )
    tool_catalogue_tokens: int = _env_field(
        800, "Budget (about 4 characters a token) of the tool list shown to the planner."
    )
    home: str = _env_field(
        "",
        "Data directory (case bank, threads); empty means MEMENTO_HOME or the user data dir.",
        env="MEMENTO_HOME",
        shown="per-user data dir",
    )
    embedding_model: str = _env_field(
        "all-MiniLM-L6-v2",
        "Embedder of the case bank: all-MiniLM-L6-v2 (local ONNX) or openai:<model>.",
    )
    embedding_model_dir: str = _env_field(
        "",
        "Folder holding the local embedding model (onnx/model.onnx, onnx/tokenizer.json); empty "
        "means the user cache, where it is downloaded once (`memento setup`).",
        env="MEMENTO_EMBEDDING_MODEL_DIR",
    )
    embedding_model_url: str = _env_field(
        MODEL_URL,
        "Where the local embedding model's archive (tar.gz) is downloaded from.",
        shown="Chroma's archive",
    )
    embedding_model_sha256: str = _env_field(
        MODEL_SHA256,
        "SHA256 the downloaded embedding model archive must have.",
        shown="that of Chroma's archive",
    )
    mcp_config: str = _env_field(
        "",
        "Path of an mcp.json (Claude Desktop, Claude Code, Cursor or VS Code) with more MCP servers.",
        env="MEMENTO_MCP_CONFIG",
    )
    disable_servers: str = _env_field(
        "",
        "Comma-separated built-in MCP servers to switch off (or 'all').",
    )
    tool_timeout: float = _env_field(60.0, "Seconds before one tool call times out.")
    approve_plan: bool = _env_field(False, "Pause after planning for approve / edit / reject.")

    def __post_init__(self) -> None:
        """Fill fields left at their defaults from environment variables."""
        for f in fields(self):
            env = env_name(f)
            if getattr(self, f.name) == f.default and env in os.environ:
                setattr(self, f.name, env_value(env, f.default))
        if not self.home:
            self.home = default_home()
        self._check()
        check_environment()

    def _check(self) -> None:
        """Refuse values out of range, naming the setting and its variable (one line, no traceback)."""
        for f in fields(self):
            value, env = getattr(self, f.name), env_name(f)
            where = f"{f.name} ({env})"
            if isinstance(f.default, bool) or not isinstance(f.default, int | float):
                if not isinstance(value, type(f.default)):
                    raise MementoError(
                        f"{where} must be a {type(f.default).__name__}, got {value!r}"
                    )
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise MementoError(f"{where} must be a number, got {value!r}")
            low = 0 if f.name == "top_k" else None
            low, high = _BOUNDS.get(f.name, (low, MAX_VALUE))
            check_range(where, value, low=low, high=high)
            if f.name in _POSITIVE and value <= 0:
                raise MementoError(f"{where} must be positive, got {value}")
        if self.judge_samples not in (1, 2):
            raise MementoError(
                f"judge_samples (MEMENTO_JUDGE_SAMPLES) must be 1 or 2, got {self.judge_samples}"
            )
        if self.policy not in POLICIES:
            raise MementoError(
                f"policy (MEMENTO_POLICY) must be one of {', '.join(POLICIES)}, got {self.policy!r}"
            )
        for name in ("user", "planner_model", "executor_model", "judge_model", "embedding_model"):
            if not getattr(self, name).strip():
                raise MementoError(f"{name} (MEMENTO_{name.upper()}) must not be empty")
        if not re.fullmatch(r"https?://\S+", self.embedding_model_url.strip()):
            raise MementoError(
                "embedding_model_url (MEMENTO_EMBEDDING_MODEL_URL) must be an http:// or https:// "
                f"address, got {self.embedding_model_url[:80]!r}"
            )
        self.embedding_model_url = self.embedding_model_url.strip()
        if not re.fullmatch(r"[0-9a-fA-F]{64}", self.embedding_model_sha256.strip()):
            raise MementoError(
                "embedding_model_sha256 (MEMENTO_EMBEDDING_MODEL_SHA256) must be 64 hex digits, "
                f"got {self.embedding_model_sha256[:80]!r}"
            )
        self.embedding_model_sha256 = self.embedding_model_sha256.strip().lower()

    @property
    def home_path(self) -> Path:
        """Return the data directory as a Path, created if missing."""
        path = Path(self.home).expanduser()
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            why = exc.strerror or type(exc).__name__
            raise MementoError(
                f"the data directory (MEMENTO_HOME) {path} is unusable: {why}"
            ) from None
        return path


POLICIES = ("similarity", "learned", "none")
_BOUNDS = {"lesson_floor": (0, 1), "similarity_floor": (0, 1)}
MAX_VALUE = 10**9  # larger numbers are typos (and overflow timers and token limits)
_POSITIVE = (
    "max_cycles",
    "max_tool_calls",
    "concurrency",
    "model_timeout",
    "planner_max_tokens",
    "executor_max_tokens",
    "synthesizer_max_tokens",
    "judge_max_tokens",
    "lesson_max_tokens",
    "judge_samples",
    "max_subtasks",
    "tool_catalogue_tokens",
    "tool_timeout",
    "tool_image_max_bytes",
)


def env_value(
    name: str, default: Any, low: float | None = None, high: float | None = MAX_VALUE
) -> Any:
    """Return environment variable `name` as the type of `default` (default when unset).

    A value of the wrong type, not finite, or outside [low, high] (numbers) is a MementoError
    naming the variable.
    """
    if name not in os.environ:
        return default
    raw = os.environ[name]
    try:
        value = _coerce(raw, default)
    except ValueError:
        kind = type(default).__name__
        raise MementoError(f"{name}={raw!r} is not a valid {kind}") from None
    if isinstance(value, int | float) and not isinstance(value, bool):
        check_range(f"{name}={raw!r}", value, low, high)
    return value


def check_range(
    where: str, value: float, low: float | None = None, high: float | None = None
) -> None:
    """Raise a MementoError naming `where` when a number is not finite or outside [low, high]."""
    if not math.isfinite(value):
        raise MementoError(f"{where} must be a finite number")
    if low is not None and value < low:
        raise MementoError(f"{where} must be at least {low:g}")
    if high is not None and value > high:
        raise MementoError(f"{where} must be at most {high:g}")


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"", "0", "false", "no", "off"}


def _coerce(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        word = raw.strip().lower()
        if word not in _TRUE | _FALSE:
            raise ValueError(raw)
        return word in _TRUE
    if isinstance(default, int):
        return int(raw.strip())
    if isinstance(default, float):
        return float(raw.strip())
    return raw


def check_environment() -> None:
    """Raise a MementoError naming the first process-level setting (settings.py) not valid."""
    from memento_graph.settings import SETTINGS

    SETTINGS.check()
