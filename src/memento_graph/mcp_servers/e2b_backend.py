"""The code server's e2b backend: code runs in a remote e2b sandbox (`E2B_API_KEY`)."""

from __future__ import annotations

import asyncio
from typing import Any

from memento_graph.mcp_servers.common import ToolError


class E2BBackend:
    """One e2b sandbox per server process, created on first use."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._sandbox: Any = None

    def _get(self) -> Any:
        if self._sandbox is None:
            try:
                from e2b_code_interpreter import Sandbox
            except ImportError:
                raise ToolError(
                    "E2B_API_KEY is set but e2b-code-interpreter is not installed: "
                    "pip install e2b-code-interpreter, or set MEMENTO_CODE_BACKEND=subprocess"
                ) from None
            self._sandbox = Sandbox()
        return self._sandbox

    async def run_python(self, code: str, timeout: float) -> str:
        """Run Python in the sandbox's Jupyter kernel."""
        return await asyncio.to_thread(self._run_python, code, timeout)

    def _run_python(self, code: str, timeout: float) -> str:
        execution = self._get().run_code(code, timeout=timeout)
        parts = ["".join(execution.logs.stdout), "".join(execution.logs.stderr)]
        parts += [str(r.text) for r in execution.results if getattr(r, "text", None)]
        if execution.error:
            parts.append(f"[error] {execution.error.name}: {execution.error.value}")
        return "\n".join(p for p in parts if p) or "[no output]"

    async def run_shell(self, command: str, timeout: float) -> str:
        """Run a shell command in the sandbox."""
        return await asyncio.to_thread(self._run_shell, command, timeout)

    def _run_shell(self, command: str, timeout: float) -> str:
        try:
            result = self._get().commands.run(command, timeout=timeout)
        except Exception as exc:  # e2b raises CommandExitException on non-zero exit
            return f"[error] {exc}"
        return f"{result.stdout}\n[stderr]\n{result.stderr}\n[exit code {result.exit_code}]"

    async def list_files(self, path: str) -> str:
        """List a folder of the sandbox."""
        entries = await asyncio.to_thread(self._get().files.list, path)
        return "\n".join(f"{e.name}{'/' if str(e.type).endswith('DIR') else ''}" for e in entries)

    async def read_file(self, path: str) -> str:
        """Read a text file of the sandbox."""
        return await asyncio.to_thread(self._get().files.read, path)

    async def write_file(self, path: str, content: str) -> str:
        """Write a text file in the sandbox."""
        await asyncio.to_thread(self._get().files.write, path, content)
        return f"wrote {len(content)} characters to {path}"
