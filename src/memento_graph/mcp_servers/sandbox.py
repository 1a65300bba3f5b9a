"""The code server's subprocess sandbox: import allowlist, rlimits, scrubbed env, killable process group.

Contained: the file system, processes, users and network by the bubblewrap jail (jail.py); time
(wall and CPU), memory (address space), processes (see containment.py), file size and secrets
(scrubbed environment) here. Every process the code started is killed when the call ends.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import ctypes
import os
import resource
import signal
import sys
from dataclasses import dataclass, fields
from pathlib import Path

from memento_graph.errors import MementoError
from memento_graph.mcp_servers import jail
from memento_graph.mcp_servers.containment import Containment
from memento_graph.mcp_servers.secret_env import scrubbed
from memento_graph.settings import SETTINGS

ALLOWED_IMPORTS = frozenset(
    """array base64 bisect calendar cmath collections colorsys copy csv dataclasses datetime decimal
    difflib enum fractions functools hashlib heapq html itertools json math numbers operator pprint
    random re statistics string textwrap time typing unicodedata uuid zoneinfo
    numpy pandas scipy sympy matplotlib openpyxl duckdb sklearn pyarrow dateutil pytz""".split()
)
FORBIDDEN_NAMES = frozenset(
    {
        "__import__",
        "eval",
        "exec",
        "compile",
        "globals",
        "locals",
        "vars",
        "breakpoint",
        "getattr",
        "setattr",
        "delattr",
        "__builtins__",
        "input",
        "memoryview",
    }
)
OUTPUT_BUDGET = 20_000
_CLONE_NEWNET = 0x40000000


@dataclass
class Limits:
    """Resource limits of one run."""

    timeout: float = 30.0
    memory_mb: int = 2048
    nproc: int = 64
    fsize_mb: int = 64
    network: bool = False

    @classmethod
    def from_env(cls) -> Limits:
        """Read the MEMENTO_SANDBOX_* limits now; a bad value is a SandboxError naming it."""
        try:
            return cls(**{f.name: getattr(SETTINGS, f"sandbox_{f.name}") for f in fields(cls)})
        except MementoError as exc:
            raise SandboxError(str(exc)) from None


class SandboxError(Exception):
    """Code refused before it ran (forbidden import or name)."""


def check_python(code: str) -> None:
    """Refuse code that imports outside the allowlist or reaches for dunders and eval-like builtins."""
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        raise SandboxError(f"syntax error: {exc.msg} (line {exc.lineno})") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            for name in names:
                if node.__dict__.get("level") or name.split(".")[0] not in ALLOWED_IMPORTS:
                    raise SandboxError(f"import of {name or '.'!r} is not allowed in the sandbox")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            raise SandboxError(f"use of {node.id!r} is not allowed in the sandbox")
        elif isinstance(node, ast.Attribute) and node.attr.startswith("__"):
            raise SandboxError(f"access to {node.attr!r} is not allowed in the sandbox")


def scrub_env(workspace: Path) -> dict[str, str]:
    """Return a minimal environment without secrets."""
    keep = {k: v for k, v in os.environ.items() if k in {"PATH", "LANG", "LC_ALL", "TZ", "TERM"}}
    env = {k: v for k, v in keep.items() if not scrubbed(k)}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update(
        HOME=str(workspace),
        TMPDIR=str(workspace),
        MPLBACKEND="Agg",
        MPLCONFIGDIR=str(workspace / ".mpl"),
        OPENBLAS_NUM_THREADS="1",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def _preexec(limits: Limits, unsafe: bool) -> None:
    """Run in the child before exec: rlimits (and, unjailed, a new net namespace if possible)."""
    if unsafe and not limits.network:
        with contextlib.suppress(Exception):
            ctypes.CDLL(None, use_errno=True).unshare(_CLONE_NEWNET)
    cpu = max(1, int(limits.timeout) + 1)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    mem = limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    fsize = limits.fsize_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.nproc, limits.nproc))


@dataclass
class RunResult:
    """What a run produced."""

    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    process_limit: bool = False
    unsandboxed: bool = False

    def text(self, limits: Limits) -> str:
        """Render the result for the model, with a clear note on any limit that was hit."""
        parts = [jail.WARNING] if self.unsandboxed else []
        if self.stdout:
            parts.append(_clip(self.stdout))
        if self.stderr:
            parts.append("[stderr]\n" + _clip(self.stderr))
        if self.timed_out:
            parts.append(
                f"[error] time limit exceeded ({limits.timeout:g} s): the process was killed"
            )
        if self.process_limit or "fork: retry" in self.stderr:
            parts.append(
                f"[error] process limit reached ({limits.nproc} processes): all were killed"
            )
        if self.timed_out or self.process_limit:
            pass
        elif "MemoryError" in self.stderr or "Cannot allocate memory" in self.stderr:
            parts.append(f"[error] memory limit exceeded ({limits.memory_mb} MiB)")
        elif self.exit_code in (-signal.SIGXCPU, -signal.SIGKILL):
            parts.append("[error] CPU time limit exceeded: the process was killed")
        elif self.exit_code == -signal.SIGXFSZ:
            parts.append(f"[error] file size limit exceeded ({limits.fsize_mb} MiB)")
        parts.append(f"[exit code {self.exit_code}]")
        return "\n".join(parts)


def _clip(text: str) -> str:
    if len(text) <= OUTPUT_BUDGET:
        return text
    return text[:OUTPUT_BUDGET] + f"\n[... truncated {len(text) - OUTPUT_BUDGET} characters]"


async def run_subprocess(argv: list[str], workspace: Path, limits: Limits) -> RunResult:
    """Run `argv` jailed in `workspace` under the limits; kill everything it started when it ends.

    Raises jail.JailError when the jail cannot be set up (and MEMENTO_SANDBOX is not unsafe-none).
    """
    unsafe = jail.mode() == jail.UNSAFE
    fds: list[int] = []
    if unsafe:
        sys.stderr.write(jail.WARNING + "\n")
    else:
        await jail.check(limits.network)
        argv, fds = jail.wrap(argv, workspace, limits.network, limits.fsize_mb)
    box = Containment(limits.nproc)

    def preexec() -> None:
        box.enter_child()
        _preexec(limits, unsafe)

    try:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=workspace,
                env=scrub_env(workspace),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                preexec_fn=preexec,
                pass_fds=fds,
            )
        finally:
            for fd in fds:
                os.close(fd)
        box.pid = proc.pid
        timed_out = False
        reading = asyncio.ensure_future(_read_capped(proc))
        deadline = asyncio.get_running_loop().time() + limits.timeout
        while not reading.done() and proc.returncode is None and not box.check():
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                timed_out = True
                break
            await asyncio.wait({reading}, timeout=min(left, 0.05))
        if proc.returncode is not None:  # let the pipes drain, then end what it left running
            await asyncio.wait({reading}, timeout=0.2)
        box.kill()
        try:  # the pipes close once every process is dead: keep the partial output
            out, err = await asyncio.wait_for(reading, 5)
        except TimeoutError:
            out, err = b"", b""
        code = await proc.wait()
    finally:
        box.close()
        if not unsafe:
            await asyncio.to_thread(jail.disarm, workspace)
    result = RunResult(code, out.decode(errors="replace"), err.decode(errors="replace"), timed_out)
    result.process_limit = box.tripped
    result.unsandboxed = unsafe
    return result


async def _read_capped(proc: asyncio.subprocess.Process) -> tuple[bytes, bytes]:
    """Read both pipes up to a byte cap each (the rest is discarded), then wait for exit."""
    cap = OUTPUT_BUDGET * 4

    async def drain(stream: asyncio.StreamReader) -> bytes:
        buf = bytearray()
        while chunk := await stream.read(65536):
            if len(buf) < cap:
                buf += chunk[: cap - len(buf)]
        return bytes(buf)

    assert proc.stdout is not None and proc.stderr is not None  # run_subprocess pipes both
    out, err = await asyncio.gather(drain(proc.stdout), drain(proc.stderr))
    return out, err


def python_argv(code: str) -> list[str]:
    """Return the argv that runs `code` with this interpreter in isolated mode."""
    return [sys.executable, "-I", "-c", code]
