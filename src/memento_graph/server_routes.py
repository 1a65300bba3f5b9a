"""Routes `memento studio` adds to `langgraph dev`: CLI threads listed in Studio with their status.

`langgraph dev` keeps its threads in memory and sets a thread's status (idle, busy, interrupted,
error) only when a run or a state update goes through it, so a thread the CLI paused would show
`idle`. `POST /memento/threads` registers threads and sets each one's status from its checkpoint,
with the server's own rule (`interrupted` while a step is pending, such as a plan approval).
It uses the in-memory runtime's operations: only `langgraph dev` serves this route.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def _sync(conn: Any, threads: Any, thread_id: str, metadata: dict[str, Any]) -> str:
    """Register one thread (kept when known) and set its status from its checkpoint."""
    await threads.put(conn, thread_id, metadata=metadata, if_exists="do_nothing")
    config = {"configurable": {"thread_id": thread_id, "graph_id": "memento"}}
    state = await threads.State.get(conn, config, subgraphs=False)
    if not state.values:
        return "idle"
    checkpoint = {
        "next": list(state.next),
        "values": state.values,
        "tasks": [{"id": t.id, "interrupts": list(t.interrupts)} for t in state.tasks],
    }
    await threads.set_status(conn, thread_id, checkpoint, None)
    return "interrupted" if state.next else "idle"


async def sync_threads(request: Request) -> JSONResponse:
    """Register the posted threads (`{"threads": [{"thread_id", "metadata"}]}`); return statuses."""
    from langgraph_runtime.database import connect
    from langgraph_runtime.ops import Threads

    body = await request.json()
    found: dict[str, str] = {}
    async with connect() as conn:
        for item in body.get("threads") or []:
            metadata = {"graph_id": "memento", **(item.get("metadata") or {})}
            found[item["thread_id"]] = await _sync(conn, Threads, item["thread_id"], metadata)
    return JSONResponse({"threads": found})


app = Starlette(routes=[Route("/memento/threads", sync_threads, methods=["POST"])])
