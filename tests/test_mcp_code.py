"""The code server over stdio: it works, and every escape attempt is contained with a clear error."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest

from fixtures.mcp_support import context_for
from memento_graph.toolbox import open_toolbox
from waiting import wait_until

pytestmark = pytest.mark.integration  # processes: see conftest.py


def _processes_with(marker: str) -> int:
    count = 0
    for p in Path("/proc").iterdir():
        try:
            count += p.name.isdigit() and marker in (p / "cmdline").read_bytes().decode(
                errors="replace"
            )
        except OSError:
            continue
    return count


@pytest.fixture
async def code(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-very-secret")
    monkeypatch.setenv("MEMENTO_SANDBOX_MEMORY_MB", "512")
    monkeypatch.setenv("MEMENTO_SANDBOX_TIMEOUT", "10")
    monkeypatch.delenv("E2B_API_KEY", raising=False)
    async with open_toolbox(context_for(tmp_path, "code")) as box:
        assert box.servers["code"] == "ready"
        yield {t.name: t for t in box.tools}, box.workspace


async def test_python_shell_and_files_in_the_workspace(code):
    tools, ws = code
    out = await tools["run_python"].ainvoke(
        {
            "code": "import json, numpy\nopen('data.json','w').write(json.dumps({'n': int(numpy.arange(5).sum())}))\nprint('ok')"
        }
    )
    assert out.startswith("ok") and "[exit code 0]" in out
    assert (ws / "data.json").read_text() == '{"n": 10}'
    assert "wrote 11 characters" in await tools["write_file"].ainvoke(
        {"path": "notes/a.txt", "content": "hello world"}
    )
    assert "notes/" in await tools["list_files"].ainvoke({})
    assert "notes/a.txt  (11 bytes)" in await tools["list_files"].ainvoke({"path": "notes"})
    page = await tools["read_file"].ainvoke({"path": "notes/a.txt", "offset": 6, "limit": 3})
    assert page.splitlines() == ["[characters 6-9 of 11; next offset=9]", "wor"]
    shell = await tools["run_shell"].ainvoke({"command": "cat notes/a.txt; pwd; env"})
    assert "hello world" in shell and str(ws) in shell
    assert (
        "very-secret" not in shell and "OPENAI_API_KEY" not in shell and "GITHUB_TOKEN" not in shell
    )


async def test_file_tools_cannot_leave_the_workspace(code, tmp_path):
    tools, ws = code
    outside = tmp_path / "outside.txt"
    outside.write_text("private")
    for path in ["../outside.txt", str(outside), "/etc/passwd", "notes/../../outside.txt"]:
        out = await tools["read_file"].ainvoke({"path": path})
        assert out.startswith("Error:") and "outside the workspace" in out, out
    out = await tools["write_file"].ainvoke({"path": "../evil.txt", "content": "x"})
    assert "outside the workspace" in out and not (ws.parent / "evil.txt").exists()
    assert "outside the workspace" in await tools["list_files"].ainvoke({"path": "/"})
    # a symlink planted by code does not open a way out either
    await tools["run_shell"].ainvoke({"command": f"ln -s {tmp_path} link"})
    out = await tools["read_file"].ainvoke({"path": "link/outside.txt"})
    assert "outside the workspace" in out
    out = await tools["write_file"].ainvoke({"path": "link/new.txt", "content": "x"})
    assert "outside the workspace" in out and not (tmp_path / "new.txt").exists()


async def test_forbidden_imports_are_refused(code):
    tools, _ = code
    for src in [
        "import os",
        "import subprocess",
        "from socket import socket",
        "__import__('os')",
        "().__class__.__bases__",
        "eval('1')",
        "import ctypes",
    ]:
        out = await tools["run_python"].ainvoke({"code": src})
        assert out.startswith("Error:") and "not allowed in the sandbox" in out, (src, out)


async def test_infinite_loop_is_stopped(code):
    tools, _ = code
    started = time.monotonic()
    out = await tools["run_python"].ainvoke({"code": "while True:\n    pass", "timeout": 1})
    assert time.monotonic() - started < 5
    assert "time limit exceeded (1 s)" in out


async def test_memory_bomb_is_contained(code):
    tools, _ = code
    out = await tools["run_python"].ainvoke(
        {"code": "x = bytearray(4 * 1024**3)\nprint('allocated')"}
    )
    assert "memory limit exceeded (512 MiB)" in out and "allocated" not in out


async def test_fork_bomb_is_contained_and_cleaned_up(code):
    tools, _ = code
    marker = f"bomb-{uuid.uuid4().hex}"
    started = time.monotonic()
    # the shell waits: the jail ends every process of a run when its command exits
    command = f": {marker}; bomb() {{ bomb | bomb & }}; bomb; sleep 30"
    out = await tools["run_shell"].ainvoke({"command": command, "timeout": 3})
    assert time.monotonic() - started < 10
    assert "process limit reached (64 processes)" in out
    wait_until(lambda: _processes_with(marker) == 0, 10, "every process of the bomb to be gone")


async def test_background_processes_do_not_outlive_the_call(code):
    tools, _ = code
    marker = f"bg-{uuid.uuid4().hex}"  # the jail's pids are not the host's: find it by name
    command = f"sh -c ': {marker}; sleep 30; :' & sleep 0.3; grep -c {marker} /proc/$!/cmdline"
    out = await tools["run_shell"].ainvoke({"command": command})
    assert out.startswith("1\n"), out  # it was running when the command ended
    wait_until(lambda: _processes_with(marker) == 0, 10, "the background process to be gone")


async def test_e2b_backend_without_its_package_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("E2B_API_KEY", "e2b-test")
    monkeypatch.setitem(os.environ, "MEMENTO_CODE_BACKEND", "")
    async with open_toolbox(context_for(tmp_path, "code")) as box:
        tool = box.find("code", "run_python")
        out = await tool.ainvoke({"code": "print(1)"})
    assert out.startswith("Error:") and "pip install e2b-code-interpreter" in out
