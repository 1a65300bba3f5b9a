"""Escapes from the code sandbox, tried through the real code server: each is contained.

The parent environment carries a canary secret; no output may show it, even masked (the toolbox
masks secrets, so `[secret` in an output would mean the sandbox saw the value).
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import time
import uuid
from pathlib import Path

import pytest

from fixtures.mcp_support import context_for
from memento_graph.errors import MementoError
from memento_graph.mcp_servers import jail
from memento_graph.mcp_servers.jail import JailError
from memento_graph.toolbox import open_toolbox
from waiting import wait_until

pytestmark = pytest.mark.integration  # processes: see conftest.py

ROOT = Path(__file__).resolve().parents[1]
CANARY = "sk-secret-canary"


@pytest.fixture
async def code(tmp_path, monkeypatch):
    """The code server with a canary secret in the parent's environment and a fake home."""
    home = tmp_path / "userhome"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("PRIVATE-KEY-OF-THE-USER")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("OPENAI_API_KEY", CANARY)
    monkeypatch.setenv("MEMENTO_SANDBOX_MEMORY_MB", "512")
    monkeypatch.setenv("MEMENTO_SANDBOX_TIMEOUT", "10")
    for name in (
        "E2B_API_KEY",
        "MEMENTO_SANDBOX",
        "MEMENTO_SANDBOX_NETWORK",
        "MEMENTO_SANDBOX_BWRAP",
    ):
        monkeypatch.delenv(name, raising=False)
    async with open_toolbox(context_for(tmp_path, "code")) as box:
        assert box.servers["code"] == "ready"
        yield box


async def shell(box, command: str, timeout: float | None = None) -> str:
    args = {"command": command} | ({"timeout": timeout} if timeout else {})
    out = await box.find("code", "run_shell").ainvoke(args)
    assert CANARY not in out and "[secret" not in out, out
    return out


async def python(box, code: str) -> str:
    out = await box.find("code", "run_python").ainvoke({"code": code})
    assert CANARY not in out and "[secret" not in out, out
    return out


async def test_etc_shadow_cannot_be_read(code):
    out = await shell(code, "cat /etc/shadow; ls /etc")
    assert "cat: /etc/shadow: No such file or directory" in out
    assert "shadow" not in out.split("[stderr]")[0]  # not even listed


async def test_the_users_home_cannot_be_read(code):
    home = os.environ["HOME"]
    out = await shell(code, f"cat {home}/.ssh/id_rsa; ls -a ~ {home}; echo home=$HOME")
    assert "PRIVATE-KEY-OF-THE-USER" not in out and "id_rsa" not in out.split("[stderr]")[0]
    assert f"ls: cannot access '{home}': No such file or directory" in out
    assert f"home={code.workspace}" in out  # its home is the workspace


async def test_the_project_folder_cannot_be_read(code):
    out = await shell(
        code, f"ls {ROOT}/src; cat {ROOT}/src/memento_graph/toolbox.py {ROOT}/pyproject.toml"
    )
    assert f"ls: cannot access '{ROOT}/src': No such file or directory" in out
    assert "open_toolbox" not in out and "memento-graph" not in out


async def test_the_memento_home_databases_cannot_be_read(code, tmp_path):
    with sqlite3.connect(tmp_path / "experience.sqlite") as db:
        db.execute("create table cases (task text)")
        db.execute("insert into cases values ('CASE-BANK-SECRET')")
    out = await shell(
        code,
        f"ls -a {tmp_path} ..; cat {tmp_path}/experience.sqlite; grep -r CASE-BANK-SECRET / 2>/dev/null",
    )
    assert "CASE-BANK-SECRET" not in out and "experience.sqlite" not in out.split("[stderr]")[0]
    assert f"cat: {tmp_path}/experience.sqlite: No such file or directory" in out


async def test_nothing_is_written_outside_the_workspace(code, tmp_path):
    tag = uuid.uuid4().hex
    targets = [tmp_path / f"pwned-{tag}", Path(f"/tmp/pwned-{tag}"), Path(f"/usr/pwned-{tag}")]
    targets += [Path(f"/etc/pwned-{tag}"), Path(f"/pwned-{tag}"), ROOT / f"pwned-{tag}"]
    command = "; ".join(f"echo x > {t}" for t in targets) + f"; echo ok > inside-{tag}"
    out = await shell(code, command)
    assert "Read-only file system" in out  # system folders and the root
    assert not any(t.exists() for t in targets)
    assert (code.workspace / f"inside-{tag}").read_text() == "ok\n"


async def test_input_files_are_read_only(code, tmp_path):
    given = tmp_path / "given.csv"
    given.write_text("a,b\n1,2\n")
    code.allow([str(given)])
    out = await shell(code, f"cat {given}; echo 3,4 >> {given}; rm -f {given}")
    assert out.startswith("a,b\n1,2\n") and "Read-only file system" in out
    assert given.read_text() == "a,b\n1,2\n"


async def test_other_processes_environment_is_not_readable(code):
    out = await shell(
        code,
        "cat /proc/*/environ | tr '\\0' '\\n' | grep -i -E 'openai|secret|canary'; "
        "grep -a -r -l -E 'sk-secret|OPENAI' /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>&1; env",
    )
    assert "OPENAI" not in out
    out = await python(
        code, "print(open('/proc/1/environ').read(), open('/proc/self/environ').read())"
    )
    assert "OPENAI" not in out and "[exit code 0]" in out


async def test_host_processes_are_invisible_and_cannot_be_signalled(code):
    out = await shell(
        code, f"ls /proc | grep -c '^[0-9]'; kill -CONT {os.getpid()}; kill -0 1 && echo init-ok"
    )
    count = int(out.splitlines()[0])
    assert count <= 5, out  # the jail's own few processes, not the host's
    assert "No such process" in out and "init-ok" in out  # pid 1 is the jail's init


async def test_code_does_not_run_as_root_and_setuid_gives_nothing(code):
    assert shutil.which("su"), "the setuid binary su is expected on the host"
    out = await shell(
        code,
        "id -u; grep -E 'CapEff|NoNewPrivs' /proc/self/status; "
        "su root -c 'echo ROOT-GAINED' </dev/null; "
        "mount -t tmpfs none /mnt && echo MOUNTED; unshare -r id && echo NESTED-USERNS",
    )
    lines = out.splitlines()
    assert lines[0] == "65534" and "CapEff:\t0000000000000000" in out and "NoNewPrivs:\t1" in out
    assert "ROOT-GAINED" not in out and "MOUNTED" not in out and "NESTED-USERNS" not in out
    # outside, the jail's uid is the server's: a setuid file it leaves would run with its rights
    out = await shell(code, "cp /usr/bin/id myid && chmod 6755 myid && ls -l myid")
    assert out.startswith("-rwsr-sr-x")  # set inside the jail (where nosuid makes it inert) ...
    assert (code.workspace / "myid").stat().st_mode & 0o7777 == 0o755  # ... and cleared after


async def test_no_network_unless_allowed(tmp_path, monkeypatch, code):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    port = listener.getsockname()[1]
    try:
        out = await shell(code, f"echo hi > /dev/tcp/127.0.0.1/{port} && echo CONNECTED")
        assert "CONNECTED" not in out and "Connection refused" in out
        with pytest.raises(BlockingIOError):
            listener.accept()
        monkeypatch.setenv("MEMENTO_SANDBOX_NETWORK", "1")
        async with open_toolbox(context_for(tmp_path / "net", "code")) as box:
            out = await shell(box, f"echo hi > /dev/tcp/127.0.0.1/{port} && echo CONNECTED")
        assert "CONNECTED" in out  # the opt-in shares the host network
    finally:
        listener.close()


def _processes_with(marker: str) -> int:
    count = 0
    for entry in Path("/proc").iterdir():
        try:
            count += entry.name.isdigit() and marker in (entry / "cmdline").read_text(
                errors="replace"
            )
        except OSError:
            continue
    return count


async def test_fork_and_memory_bombs_are_contained(code):
    marker = f"bomb-{uuid.uuid4().hex}"
    started = time.monotonic()
    out = await shell(code, f": {marker}; b() {{ b | b & }}; b; sleep 30", timeout=3)
    assert time.monotonic() - started < 10 and "process limit reached (64 processes)" in out
    wait_until(lambda: _processes_with(marker) == 0, 10, "every process of the bomb to be gone")
    started = time.monotonic()
    out = await python(code, "x = []\nwhile True:\n    x.append(bytearray(10**7))")
    assert time.monotonic() - started < 10 and "memory limit exceeded (512 MiB)" in out
    for folder in ("/tmp", "/dev/shm"):  # bounded (64 MiB): no filling the host's memory
        fill = f"for i in 1 2 3; do head -c 60M /dev/zero > {folder}/f$i; done; "
        fill += f"du -smc {folder}/f1 {folder}/f2 {folder}/f3 | tail -n 1"  # (a venv may be bound below)
        out = await shell(code, fill)
        assert "No space left on device" in out and int(out.split()[0]) <= 65, out
    out = await shell(code, "echo x > /dev/fill; echo x > /dev/null && echo null-ok")
    assert "/dev/fill: Read-only file system" in out and "null-ok" in out


async def test_symlinks_out_of_the_workspace_lead_nowhere(code, tmp_path):
    (tmp_path / "outside.txt").write_text("OUTSIDE-SECRET")
    links = {
        "host": "/etc/hostname",
        "project": ROOT / "pyproject.toml",
        "out": tmp_path / "outside.txt",
    }
    for name, target in links.items():
        (code.workspace / name).symlink_to(target)
    out = await shell(code, "cat host project out")
    assert out.count("No such file or directory") == 3, out
    assert "OUTSIDE-SECRET" not in out and "memento-graph" not in out
    assert Path("/etc/hostname").read_text().strip() not in out
    out = await python(code, "print(open('out').read())")
    assert "FileNotFoundError" in out and "OUTSIDE-SECRET" not in out


async def test_python_open_outside_the_workspace_fails(code, tmp_path):
    (tmp_path / "outside.txt").write_text("OUTSIDE-SECRET")
    for path in [
        "/etc/shadow",
        ROOT / "pyproject.toml",
        tmp_path / "outside.txt",
        os.environ["HOME"],
    ]:
        out = await python(code, f"print(open({str(path)!r}).read())")
        assert "FileNotFoundError" in out and "OUTSIDE-SECRET" not in out, out
    out = await python(code, "open('/usr/lib/pwned', 'w').write('x')")
    assert "Read-only file system" in out and not Path("/usr/lib/pwned").exists()
    out = await python(code, "import numpy, pandas, sympy\nprint(int(numpy.arange(5).sum()))")
    assert out.startswith("10\n")  # the data libraries still work


async def _one_call(tmp_path: Path, command: str) -> tuple[str, Path]:
    async with open_toolbox(context_for(tmp_path / uuid.uuid4().hex, "code")) as box:
        out = await box.find("code", "run_shell").ainvoke({"command": command})
        return out, box.workspace


async def test_without_a_working_sandbox_code_does_not_run(tmp_path, monkeypatch):
    broken = tmp_path / "bwrap"
    broken.write_text(
        "#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n"
    )
    broken.chmod(0o755)
    monkeypatch.delenv("MEMENTO_SANDBOX", raising=False)
    monkeypatch.setenv("MEMENTO_SANDBOX_BWRAP", str(tmp_path / "missing-bwrap"))
    missing, ws = await _one_call(tmp_path, "echo ran > ran.txt")
    assert missing == (
        f"Error: code sandbox unavailable: {tmp_path}/missing-bwrap not found: install bubblewrap "
        "(apt-get install bubblewrap); or set MEMENTO_SANDBOX=unsafe-none to run code "
        "unsandboxed at your own risk"
    )
    assert not (ws / "ran.txt").exists()
    monkeypatch.setenv("MEMENTO_SANDBOX_BWRAP", str(broken))
    out, ws = await _one_call(tmp_path, "echo ran > ran.txt")
    assert out.startswith("Error: code sandbox unavailable: bubblewrap cannot set up the sandbox")
    assert "No permissions to create new namespace" in out and "unsafe-none" in out
    assert len(out.splitlines()) == 1 and not (ws / "ran.txt").exists()
    monkeypatch.setenv("MEMENTO_SANDBOX", "off")
    with pytest.raises(MementoError, match="MEMENTO_SANDBOX='off' is not valid"):
        await _one_call(tmp_path, "echo ran")  # refused before any server starts
    with pytest.raises(JailError, match=r"MEMENTO_SANDBOX='off' is not valid \(use bwrap"):
        jail.mode()  # and by the code server itself, were it started with it


async def test_the_unsafe_opt_out_warns_at_every_call(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMENTO_SANDBOX", "unsafe-none")
    monkeypatch.setenv("MEMENTO_SANDBOX_BWRAP", str(tmp_path / "missing-bwrap"))
    out, _ = await _one_call(tmp_path, "echo ran")
    assert out.startswith("[warning] MEMENTO_SANDBOX=unsafe-none: this code ran UNSANDBOXED")
    assert "\nran\n" in out
