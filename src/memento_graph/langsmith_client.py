"""The LangSmith client memento sends with, and its failures as one warning line per kind."""

from __future__ import annotations

import functools
import logging
import os
import re
import sys
from typing import Any


def env(*names: str) -> str:
    """Return the first of these environment variables that is set and not blank, stripped."""
    return next((os.environ[n].strip() for n in names if os.environ.get(n, "").strip()), "")


_STATUS = re.compile(
    r"\b([45]\d\d)(?= (?:Client|Server) Error| [A-Z][a-z])|[Ee]rror \(([45]\d\d)\)"
)
_ERROR = re.compile(r"\b(\w*(?:Error|Exception|Timeout))\b")
_IDS = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def warning_kind(text: str) -> str:
    """Return what kind of failure a LangSmith warning reports.

    "auth" (401, 403), "server" (5xx), "unreachable" (no connection, or no answer in time), else
    the HTTP status, the error type, or the text itself. The same unreachable endpoint reported
    by the info call, the run upload and the feedback is one kind; a 401 and a 500 are two.
    """
    if found := _STATUS.search(text):
        status = int(found.group(1) or found.group(2))
        return "auth" if status in (401, 403) else "server" if status >= 500 else str(status)
    errors = [e for e in _ERROR.findall(text) if e not in ("LangSmithError", "HTTPError")]
    if any("Connect" in e or "Timeout" in e for e in errors):
        return "unreachable"
    if errors:
        return "auth" if errors[-1] == "LangSmithAuthError" else errors[-1]
    return _IDS.sub("<id>", text)


class _OneLine(logging.Handler):
    """Print each kind of LangSmith failure once (`warning_kind`), as one line (no traceback).

    A 500 after a 401 shows too, and a 401 after a 500; the same failure repeated does not.
    """

    said: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:  # "Error creating feedback"
            exc = record.exc_info[1]
            message = f"{message}: {type(exc).__name__}: {exc}"
        text = message.splitlines()[0][:200] if message.strip() else record.name
        key = warning_kind(message)
        if key in _OneLine.said:
            return
        _OneLine.said.add(key)
        sys.stderr.write(f"warning: LangSmith tracing: {text}\n")


def client() -> Any:
    """Return the LangSmith client that sends runs and feedback (one per endpoint and API key).

    A 500 is retried by the SDK's own bounded loop only (3 tries over about 3 s for runs, 2 for
    feedback), not also inside each try as its default transport does (about 13 s for one batch),
    so a failing server is reported within the flush timeout rather than after the exit.
    """
    endpoint = env("LANGSMITH_ENDPOINT", "LANGCHAIN_ENDPOINT")
    return _client(endpoint, env("LANGSMITH_API_KEY", "LANGCHAIN_API_KEY"))


@functools.lru_cache(maxsize=4)
def _client(endpoint: str, api_key: str) -> Any:
    from langsmith import Client
    from langsmith.utils import LangSmithRetry

    retry = LangSmithRetry(
        total=3,
        status_forcelist=[429, 502, 503, 504, 408, 425],  # the SDK's, less 500
        backoff_factor=0.5,
        raise_on_redirect=False,
        raise_on_status=False,
        respect_retry_after_header=True,
        allowed_methods=None,
    )
    return Client(api_url=endpoint or None, api_key=api_key or None, retry_config=retry)


def quiet_langsmith_logs() -> None:
    """Send LangSmith's log records through `_OneLine` only (not the root logger)."""
    for name in ("langsmith", "langchain_core.tracers"):
        logger = logging.getLogger(name)
        if not any(isinstance(h, _OneLine) for h in logger.handlers):
            logger.addHandler(_OneLine(logging.WARNING))
        logger.propagate = False
