"""retrieve_cases: the top-K past cases for the task, chosen by the case-selection policy."""

from __future__ import annotations

import asyncio
from typing import cast

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from memento_graph.context import Context
from memento_graph.resources import resources_of
from memento_graph.state import RetrievedCase, State, StateUpdate


async def retrieve_cases(
    state: State, runtime: Runtime[Context], config: RunnableConfig
) -> StateUpdate:
    """Retrieve up to `top_k` cases above the similarity floor, labelled positive or negative."""
    ctx = runtime.context
    if ctx.policy == "none" or ctx.top_k <= 0:
        return {"cases": [], "cycle": 0, "status": "planning"}
    memory = await resources_of(config).memory(ctx)
    floor = ctx.similarity_floor or None  # 0: no floor
    found = await asyncio.to_thread(
        lambda: memory.retrieve(
            state["task"], ctx.top_k, ctx.policy, floor=floor, lesson_floor=ctx.lesson_floor
        )
    )
    cases = cast(list[RetrievedCase], found)  # the memory's rows are these records
    return {"cases": cases, "cycle": 0, "status": "planning"}
