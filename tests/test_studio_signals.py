"""`memento studio` stops `langgraph dev` (its whole process group) on SIGINT, SIGTERM and SIGHUP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from memento_graph.commands.studio import free_port
from waiting import wait_until

pytestmark = pytest.mark.integration  # processes: see conftest.py

ROOT = Path(__file__).resolve().parents[1]


def children(pid: int) -> list[int]:
    """Return the ids of the processes whose parent is `pid` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def port_free(port: int) -> bool:
    """Tell whether a new server could listen on the port (as uvicorn binds: SO_REUSEADDR)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.parametrize(
    "sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name
)
def test_studio_stops_its_server_on_a_signal(llm, home, tmp_path, sig):
    port = free_port()
    output = tmp_path / "studio.out"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "LANGSMITH_TRACING": "false"}
    with output.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "memento_graph.cli", "studio", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # so the test can clean up whatever happens
        )
    servers: list[int] = []
    try:

        def ready() -> bool:
            assert proc.poll() is None, output.read_text()
            return "Studio  " in output.read_text()

        wait_until(ready, 120, "memento studio to print the Studio address")
        servers = children(proc.pid)
        assert len(servers) == 1 and group_alive(servers[0])  # langgraph dev, its own group
        assert not port_free(port)
        proc.send_signal(sig)
        assert proc.wait(timeout=30) == 0, output.read_text()
        wait_until(lambda: not group_alive(servers[0]), 15, "langgraph dev to be gone")
        wait_until(lambda: port_free(port), 15, f"port {port} to be free")
        assert f"stopping the server ({sig.name})" in output.read_text()
    finally:
        for pgid in [proc.pid, *servers]:
            if group_alive(pgid):
                os.killpg(pgid, signal.SIGKILL)
        proc.wait(timeout=10)
