"""`langgraph dev` on a free port serving a home, as `memento studio` starts it (for the tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from memento_graph.commands.studio import free_port, start_server, stop_server, wait_ready

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def studio(home: Path, **env: str) -> Iterator[str]:
    """Yield the server's URL; its log is `<home>/logs/studio.log`; stopped on exit."""
    port = free_port()
    env = {"LANGSMITH_TRACING": "false", "PYTHONPATH": str(ROOT / "src"), **env}
    proc = start_server(home, "127.0.0.1", port, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url, home / "logs" / "studio.log")
        yield url
    finally:
        stop_server(proc)
