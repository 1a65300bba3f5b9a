"""Run the `memento` CLI as a user does: a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys


def memento(
    *args: str, env: dict | None = None, stdin: str = "", timeout: float = 120
) -> subprocess.CompletedProcess:
    """Run `memento ARGS` with this interpreter; `env` defaults to the test's environment."""
    return subprocess.run(
        [sys.executable, "-m", "memento_graph.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env if env is not None else os.environ.copy(),
    )
