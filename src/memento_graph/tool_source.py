"""The executor's tools: plain LangChain tools plus MCP servers started in the background.

`ToolSource.start` opens the toolbox in a task of its own, so a run goes on while the servers
start. `tools()` returns the loaded tools once the servers are up; before that, when the catalogue
of the same server configuration is cached (catalogue.py), it returns stand-ins built from the
cache that start the servers (if nobody has yet) and wait for them only when a tool is actually
called. `open_agent` starts the servers at once only when there is no cached catalogue; otherwise
they start when a plan names a tool or a tool is called, so a task that uses no tool starts none.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool, ToolException

from memento_graph.catalogue import ToolSpec, cache_key, load_specs, save_specs, spec_of
from memento_graph.context import Context
from memento_graph.toolbox import Toolbox, open_toolbox

log = logging.getLogger(__name__)


class ToolSource:
    """Tools for any number of runs: `local` tools at once, MCP tools when their servers are up."""

    def __init__(
        self, context: Context, local: Sequence[BaseTool] = (), cache_home: Path | None = None
    ) -> None:
        """Prepare; nothing starts before `start` (or the first `tools`).

        The catalogue is cached in `cache_home` (the context's home by default).
        """
        self.context = context
        self.local = list(local)
        self.cache_home = cache_home
        self.key: str | None = None
        self._box: asyncio.Future[Toolbox] | None = None
        self._stop = asyncio.Event()
        self._owner: asyncio.Task | None = None
        self._pending: list[str] = []
        self._stand_ins: list[BaseTool] | None = None

    def start(self) -> None:
        """Start the servers in the background (once)."""
        if self._owner is None:
            self._box = asyncio.get_running_loop().create_future()
            # an empty contextvars context: the holder outlives the run that started it
            self._owner = asyncio.create_task(self._own(), context=contextvars.Context())

    async def _own(self) -> None:
        assert self._box is not None
        try:
            taken = {t.name for t in self.local}
            async with open_toolbox(self.context, taken) as box:
                box.allow(self._pending)
                self._pending.clear()
                self._box.set_result(box)
                if not any(s.startswith("failed") for s in box.servers.values()):
                    await self._save(box)
                await self._stop.wait()
        except BaseException as exc:
            if not self._box.done():
                self._box.set_exception(exc)
                self._box.exception()  # retrieved: whoever awaits it gets it
            elif not isinstance(exc, asyncio.CancelledError):
                log.warning("the tool servers stopped: %s", exc)

    async def _save(self, box: Toolbox) -> None:
        key = await self._key()
        specs = [spec_of(t) for t in box.tools]
        await asyncio.to_thread(lambda: save_specs(self._cache_home(), key, specs))

    async def _key(self) -> str:
        if self.key is None:
            names = [t.name for t in self.local]
            self.key = await asyncio.to_thread(cache_key, self.context, names)
        return self.key

    def _cache_home(self) -> Path:
        return self.cache_home or self.context.home_path

    @property
    def ready(self) -> bool:
        """Tell whether the servers are up (or failed to come up)."""
        return self._box is not None and self._box.done()

    async def toolbox(self) -> Toolbox:
        """Return the open toolbox, starting it if needed and waiting until its servers are up."""
        self.start()
        assert self._box is not None
        return await asyncio.shield(self._box)

    async def tools(self) -> list[BaseTool]:
        """Return every tool: loaded ones when the servers are up, else cached stand-ins if any."""
        if not self.ready:
            stand_ins = await self._cached()
            if stand_ins is not None and not self.ready:
                return self.local + stand_ins
        return self.local + (await self.toolbox()).tools

    async def has_catalogue(self) -> bool:
        """Tell whether the tools can be offered from the cache, before any server is up."""
        return await self._cached() is not None

    async def _cached(self) -> list[BaseTool] | None:
        if self._stand_ins is None:
            key = await self._key()
            specs = await asyncio.to_thread(lambda: load_specs(self._cache_home(), key))
            if specs is None:
                return None
            self._stand_ins = [self._stand_in(s) for s in specs]
        return self._stand_ins

    def _stand_in(self, spec: ToolSpec) -> BaseTool:
        """Return a tool that looks like the cached one and calls the real one once it is loaded."""

        async def call(**kwargs: Any) -> tuple[Any, Any]:
            box = await self.toolbox()
            tool = next((t for t in box.tools if t.name == spec.name), None)
            if tool is None:
                status = box.servers.get(spec.server, "not loaded")
                raise ToolException(
                    f"Error: {spec.name} is not available (MCP server {spec.server!r}: {status})"
                )
            call_id = f"stand-in-{uuid.uuid4().hex[:12]}"
            ran = await tool.ainvoke(
                {"type": "tool_call", "name": tool.name, "args": kwargs, "id": call_id}
            )
            if getattr(ran, "status", "success") == "error":
                raise ToolException(ran.content)
            return ran.content, ran.artifact  # the text and the images the tool gave

        return StructuredTool(
            name=spec.name,
            description=spec.description,
            args_schema={"type": "object", "properties": {}, **spec.parameters},
            coroutine=call,
            response_format="content_and_artifact",
            handle_tool_error=True,
            metadata={"server": spec.server, "cached": True},
        )

    def allow(self, paths: Sequence[str]) -> None:
        """Let the servers read these files (a task's inputs), now or as soon as they are up."""
        if self.ready and self._box is not None and self._box.exception() is None:
            self._box.result().allow(list(paths))
        else:
            self._pending.extend(paths)

    def crashed(self) -> bool:
        """Tell whether a server that was up has died (the source should be replaced)."""
        if not self.ready or self._box is None or self._box.exception() is not None:
            return False
        return any(s.startswith("failed: crashed") for s in self._box.result().servers.values())

    @property
    def workspace(self) -> Path | None:
        """Return the servers' workspace once they are up."""
        if self.ready and self._box is not None and self._box.exception() is None:
            return self._box.result().workspace
        return None

    async def aclose(self) -> None:
        """Stop the servers: those still starting at once, the others through their sessions."""
        self._stop.set()
        if self._owner is not None:
            if not self.ready:
                self._owner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._owner
