"""`memento studio`: serve the graph with `langgraph dev` on a free port, open in LangGraph Studio.

The server runs in `<home>/studio` (its langgraph.json and in-memory state live there) and logs to
`<home>/logs/studio.log`, outside any project folder, so nothing it writes wakes a reloader. It
shares the CLI's checkpointer and case bank, and every CLI thread is registered with it (at start,
and by each CLI run on the same home while it runs: `tell_studio`), so CLI threads show up in
Studio with their status and can be resumed there.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from memento_graph.errors import MementoError
from memento_graph.settings import SETTINGS

if TYPE_CHECKING:
    from rich.console import Console

    from memento_graph.context import Context

STUDIO_URL = "https://smith.langchain.com/studio/?baseUrl={url}"
CONFIG = {
    "dependencies": ["."],
    "graphs": {"memento": "memento_graph.server_graph:make_graph"},
    # langgraph-api 0.16.7 splits a module checkpointer path at its last dot, not at a colon.
    "checkpointer": {"path": "memento_graph.server_graph.checkpointer"},
    "http": {"app": "memento_graph.server_routes:app"},  # CLI threads with their status
}


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_taken(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def server_command(folder: Path, host: str, port: int) -> list[str]:
    """Return the `langgraph dev` command line for `folder`'s langgraph.json."""
    return [
        sys.executable,
        "-m",
        "langgraph_cli",
        "dev",
        "--config",
        str(folder / "langgraph.json"),
        "--host",
        host,
        "--port",
        str(port),
        "--no-browser",
        "--no-reload",
    ]


def start_server(home: Path, host: str, port: int, env: dict[str, str] | None = None) -> Any:
    """Write the server's langgraph.json under `home` and start `langgraph dev` (log in home/logs)."""
    import memento_graph

    folder = home / "studio"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "langgraph.json").write_text(json.dumps(CONFIG, indent=2))
    logs = home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    source = str(Path(memento_graph.__file__).resolve().parents[1])
    child_env = {**os.environ, **(env or {})}
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (source, child_env.get("PYTHONPATH", "")) if p
    )
    child_env["MEMENTO_HOME"] = str(home)
    child_env.setdefault("LANGGRAPH_CLI_NO_ANALYTICS", "1")
    log = (logs / "studio.log").open("ab")
    proc = subprocess.Popen(
        server_command(folder, host, port),
        cwd=folder,
        env=child_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    # Where CLI runs on this home tell the server about their threads (tell_studio).
    (folder / "server.json").write_text(
        json.dumps({"url": f"http://{host}:{port}", "pid": proc.pid})
    )
    return proc


def tell_studio(home: Path, thread_id: str) -> None:
    """Show a CLI thread, with its status, in the Studio server running on `home` (if any).

    Best effort: a server that is gone or slow is skipped silently (2 s at most).
    """
    try:
        server = json.loads((home / "studio" / "server.json").read_text())
        os.kill(int(server["pid"]), 0)
        register_threads(server["url"], home, [thread_id], timeout=2)
    except Exception:  # noqa: BLE001 - no server, a stale file, a slow or older server
        return


def wait_ready(proc: Any, url: str, log: Path, timeout: float | None = None) -> None:
    """Wait until the server answers /ok; raise MementoError if it exits or never answers.

    `timeout` defaults to MEMENTO_STUDIO_START_TIMEOUT (read now: a bad value is one error line).
    """
    import httpx

    if timeout is None:
        timeout = SETTINGS.studio_start_timeout
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise MementoError(f"langgraph dev exited with code {proc.returncode}; see {log}")
        try:
            if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise MementoError(f"langgraph dev did not answer within {timeout:g} s; see {log}")


def register_threads(
    url: str, home: Path, thread_ids: list[str] | None = None, timeout: float = 30
) -> int:
    """Make CLI threads (UUID ids; all, or `thread_ids`) known to the server with their status.

    Studio then lists each one as the CLI left it: `interrupted` when paused or cut short, `idle`
    when done. Returns how many were registered.
    """
    import httpx

    from memento_graph.thread_index import ThreadIndex

    index = ThreadIndex(home)
    rows = index.list(10_000) if thread_ids is None else [index.get(t) for t in thread_ids]
    threads = []
    for row in rows:
        if row is None:
            continue
        try:
            uuid.UUID(row["thread_id"])
        except ValueError:
            continue  # the server only takes UUID thread ids
        metadata = {"graph_id": "memento", "source": "memento cli", "task": row["task"][:200]}
        threads.append({"thread_id": row["thread_id"], "metadata": metadata})
    if threads:
        reply = httpx.post(f"{url}/memento/threads", json={"threads": threads}, timeout=timeout)
        reply.raise_for_status()
    return len(threads)


def stop_server(proc: Any, grace: float = 10) -> None:
    """Stop the server and its process group (SIGTERM, then SIGKILL), even if the leader exited."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stopped(BaseException):
    """A signal (Ctrl-C, a closed terminal, `timeout`, systemd) asked `memento studio` to stop.

    A BaseException, like KeyboardInterrupt, so no `except Exception` on the way swallows it.
    """


class _Signals:
    """Stop-signal handler: records the first signal, raises `Stopped` only while armed."""

    def __init__(self) -> None:
        self.received = ""
        self.armed = False

    def __call__(self, signum: int, _frame: Any) -> None:
        if self.received:
            return  # one stop is enough: let the cleanup finish
        self.received = signal.Signals(signum).name
        if self.armed:
            raise Stopped(self.received)


def serve(home: Path, host: str, port: int, console: Any) -> None:
    """Run the server until it exits or a stop signal comes; always stop its process group."""
    log = home / "logs" / "studio.log"
    url = f"http://{host}:{port}"
    signals = _Signals()
    previous = {sig: signal.signal(sig, signals) for sig in STOP_SIGNALS}
    proc = None
    try:
        proc = start_server(home, host, port)
        signals.armed = True  # from here on `proc` is known: a signal raises, `finally` stops it
        if signals.received:
            raise Stopped(signals.received)
        wait_ready(proc, url, log)
        shared = register_threads(url, home)
        console.print(f"API     {url}", highlight=False)
        console.print(f"Studio  {STUDIO_URL.format(url=url)}", highlight=False)
        console.print(f"threads {shared} from the CLI; log {log}; Ctrl-C stops", highlight=False)
        proc.wait()
        if proc.returncode:
            raise MementoError(f"langgraph dev exited with code {proc.returncode}; see {log}")
    except (Stopped, KeyboardInterrupt) as stop:
        with contextlib.suppress(OSError):  # the terminal may be gone (SIGHUP)
            console.print(f"stopping the server ({stop or 'SIGINT'})", highlight=False)
    finally:
        signals.armed = False
        if proc is not None:
            stop_server(proc)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def studio(
    port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Port of the server (default: a free one)."),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
) -> None:
    """Serve the graph with `langgraph dev` and print the LangGraph Studio address."""
    from rich.console import Console

    from memento_graph.context import Context

    console = Console(stderr=True)
    if importlib.util.find_spec("langgraph_api") is None:
        raise MementoError(
            "memento studio needs the server extra: pip install 'memento-graph[server]'"
        )
    try:
        socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        raise MementoError(f"--host {host!r} is not an address of this machine") from None
    if port is not None and _port_taken(host, port):
        raise MementoError(f"port {port} is in use: choose another with --port, or leave it out")
    ctx = Context()
    _model_ready(ctx, console)
    serve(ctx.home_path, host, port or free_port(host), console)


def _model_ready(ctx: Context, console: Console) -> None:
    """Get the local embedding model before the server starts.

    A download shows its progress here; offline is one line now, not a failed run in Studio.
    """
    from memento_graph.memory.embeddings import is_local
    from memento_graph.memory.model_files import ensure_model

    if is_local(ctx.embedding_model):
        ensure_model(ctx, console)
