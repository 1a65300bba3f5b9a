"""retrieve_cases: the top-K past cases for the task, chosen by the case-selection policy."""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.runtime import Runtime

from memento_graph.context import Context
from memento_graph.state import State


async def retrieve_cases(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Retrieve up to `top_k` cases, labelled positive (reward >= 0.5) or negative."""
    ctx = runtime.context
    if ctx.policy == "none" or ctx.top_k <= 0:
        return {"cases": [], "cycle": 0, "status": "planning"}
    from memento_graph.memory import open_memory

    memory = await asyncio.to_thread(open_memory, ctx)
    cases = await asyncio.to_thread(memory.retrieve, state["task"], ctx.top_k, ctx.policy)
    return {"cases": cases, "cycle": 0, "status": "planning"}
