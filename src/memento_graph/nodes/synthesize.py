"""synthesize: the final answer, best effort when planning stopped without one."""

from __future__ import annotations

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from memento_graph import prompts
from memento_graph.context import Context
from memento_graph.llm import chat_model, usage
from memento_graph.state import State, StateUpdate, results_so_far


async def synthesize(state: State, runtime: Runtime[Context]) -> StateUpdate:
    """Return the planner's final answer, or ask for the best answer from the results so far."""
    if state.get("status") == "answered" and state.get("answer"):
        return {"status": "done"}
    ctx = runtime.context
    reason = state.get("error") or state.get("note") or "no final answer was given"
    request = prompts.planner_request(
        state["task"], state.get("files") or [], [], results_so_far(state)
    )
    reply = await chat_model(
        ctx.planner_model, ctx.model_timeout, ctx.synthesizer_max_tokens
    ).ainvoke(
        [
            SystemMessage(content=prompts.SYNTHESIZE_SYSTEM.format(reason=reason)),
            HumanMessage(content=request),
        ]
    )
    answer = reply.content if isinstance(reply.content, str) else str(reply.content)
    return {
        "answer": answer.strip() or "(no answer)",
        "note": f"best effort: {reason}",
        "status": "done",
        "tokens": usage(reply),
    }
