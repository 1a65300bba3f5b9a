"""retrieve_cases: the top-K past cases for the task, chosen by the case-selection policy."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from memento_graph.context import Context
from memento_graph.resources import resources_of
from memento_graph.state import State


async def retrieve_cases(
    state: State, runtime: Runtime[Context], config: RunnableConfig
) -> dict[str, Any]:
    """Retrieve up to `top_k` cases, labelled positive (reward >= 0.5) or negative."""
    ctx = runtime.context
    if ctx.policy == "none" or ctx.top_k <= 0:
        return {"cases": [], "cycle": 0, "status": "planning"}
    memory = await resources_of(config).memory(ctx)
    cases = await asyncio.to_thread(memory.retrieve, state["task"], ctx.top_k, ctx.policy)
    return {"cases": cases, "cycle": 0, "status": "planning"}
