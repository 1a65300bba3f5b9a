"""Start many `memento` processes cheaply: fork them from a Python that imported the CLI once.

Each command runs in its own process through the CLI's entry point (`memento_graph.cli.main`, as
`python -m memento_graph.cli` does), with its own environment and output files, and can be killed
like any process; forking skips the ~2 CPU-seconds of imports a fresh interpreter spends. Commands
may run at the same time (from several test threads).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

# The forking Python. Imports only (no client, thread or file opened before forking); openai's
# modules are imported all at once because its client imports ~700 of them on first use.
SERVER = r"""
import importlib, json, os, pkgutil, selectors, sys, time, traceback
import chromadb, chromadb.api.rust, onnxruntime, openai
import langgraph.checkpoint.sqlite.aio
import memento_graph.cli as cli
import memento_graph.approval, memento_graph.checkpoint, memento_graph.commands.cases
import memento_graph.graph, memento_graph.memory.core, memento_graph.memory.portability
import memento_graph.progress, memento_graph.memory.chroma_client, memento_graph.agent, memento_graph.toolbox
for info in pkgutil.walk_packages(openai.__path__, "openai."):
    try:
        importlib.import_module(info.name)
    except Exception:
        pass


def child(job):
    os.environ.clear()
    os.environ.update(job["env"])
    for fd, name in ((1, "stdout"), (2, "stderr")):
        os.dup2(os.open(job[name], os.O_WRONLY | os.O_CREAT | os.O_TRUNC), fd)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    sys.argv = ["memento", *job["args"]]
    code = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def say(msg):
    os.write(1, (json.dumps(msg) + "\n").encode())


sel = selectors.DefaultSelector()
sel.register(0, selectors.EVENT_READ)
buffer, running, open_ = b"", set(), True
while open_ or running:
    if open_ and sel.select(timeout=0.02):
        data = os.read(0, 65536)
        open_ = bool(data)
        buffer += data
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            job = json.loads(line)
            pid = os.fork()
            if pid == 0:
                child(job)
            running.add(pid)
            say({"job": job["id"], "pid": pid})
    elif not open_:
        time.sleep(0.02)
    for pid in list(running):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            running.discard(pid)
            say({"pid": pid, "returncode": os.waitstatus_to_exitcode(status)})
"""


class ForkedCLI:
    """The forking Python, and the commands it started."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.jobs = 0
        self.pids: dict[int, int] = {}
        self.exits: dict[int, int] = {}
        self.files: dict[int, dict[str, str]] = {}
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            msg = json.loads(line)
            with self.cond:
                if "job" in msg:
                    self.pids[msg["job"]] = msg["pid"]
                else:
                    self.exits[msg["pid"]] = msg["returncode"]
                self.cond.notify_all()

    def start(self, args: tuple[str, ...], env: dict[str, str]) -> int:
        """Start `memento ARGS` with this environment; return its pid."""
        assert self.proc.stdin is not None
        with self.cond:
            self.jobs += 1
            job = self.jobs
            files = {n: str(self.folder / f"{job}.{n}") for n in ("stdout", "stderr")}
            line = json.dumps({"id": job, "args": list(args), "env": env, **files}) + "\n"
            self.proc.stdin.write(line.encode())
            self.proc.stdin.flush()
            assert self.cond.wait_for(lambda: job in self.pids, timeout=120), "no fork"
            pid = self.pids[job]
            self.files[pid] = files
            return pid

    def wait(self, pid: int, timeout: float = 180) -> tuple[int, str, str]:
        """Wait for a started command; return (exit code, -9 when killed; stdout; stderr)."""
        with self.cond:
            assert self.cond.wait_for(lambda: pid in self.exits, timeout=timeout), "no exit"
            files = self.files[pid]
        out, err = (Path(files[n]).read_text() for n in ("stdout", "stderr"))
        return self.exits[pid], out, err

    def run(self, *args: str, env: dict[str, str]) -> tuple[int, str, str]:
        """Run `memento ARGS` to its end."""
        return self.wait(self.start(args, env))

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
