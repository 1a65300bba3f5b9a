"""The Memento loop as a LangGraph graph (wiring only).

retrieve_cases -> plan -> dispatch_subtask -> execute_with_tools (one Send per ready subtask)
^            |  ^                   |
|            |  +-------------------+   (until no subtask is ready)
+------------+                          (replan with the results)
plan -> approve_plan (interrupt) -> dispatch_subtask | END   (only with approve_plan on)
plan -> synthesize -> write_memory -> END                  (answered, failed or out of cycles)
"""

from __future__ import annotations

from typing import Literal

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send

from memento_graph.context import Context
from memento_graph.llm import model_retry
from memento_graph.nodes.approve_plan import approve_plan
from memento_graph.nodes.dispatch_subtask import dispatch_subtask, subtask_sends
from memento_graph.nodes.execute_with_tools import execute_with_tools
from memento_graph.nodes.plan import plan
from memento_graph.nodes.retrieve_cases import retrieve_cases
from memento_graph.nodes.synthesize import synthesize
from memento_graph.nodes.write_memory import write_memory
from memento_graph.state import InputState, State


def route_plan(
    state: State, runtime: Runtime[Context]
) -> Literal["approve_plan", "dispatch_subtask", "synthesize"]:
    """After planning: have the plan approved, execute it, or answer (final, failed, cycles spent)."""
    if state.get("status") != "executing":
        return "synthesize"
    return "approve_plan" if runtime.context.approve_plan else "dispatch_subtask"


def route_subtasks(state: State) -> list[Send] | Literal["plan"]:
    """Fan out every ready subtask to the executor; when none is left, replan with the results."""
    return subtask_sends(state) or "plan"


def graph_builder() -> StateGraph[State, Context, InputState, State]:
    """Return the Memento graph, uncompiled; the model retry policy is read from the settings now."""
    model_retry_policy = model_retry()
    builder = StateGraph(State, input_schema=InputState, context_schema=Context)

    # Nodes, named as in the paper; every node that calls a model retries transient errors.
    # The ignores: langgraph passes `runtime` and `config` to a node that takes both, but the
    # overloads of `add_node` have no node type with both (langgraph/graph/_node.py).
    builder.add_node("retrieve_cases", retrieve_cases)  # type: ignore[call-overload]
    builder.add_node("plan", plan, retry_policy=model_retry_policy)  # type: ignore[call-overload]
    builder.add_node("approve_plan", approve_plan)
    builder.add_node("dispatch_subtask", dispatch_subtask)
    builder.add_node(
        "execute_with_tools",
        execute_with_tools,  # type: ignore[call-overload]
        retry_policy=model_retry_policy,
    )
    builder.add_node("synthesize", synthesize, retry_policy=model_retry_policy)
    builder.add_node(
        "write_memory",
        write_memory,  # type: ignore[call-overload]
        retry_policy=model_retry_policy,
    )

    # Start by retrieving similar past cases, then plan with them.
    builder.add_edge(START, "retrieve_cases")
    builder.add_edge("retrieve_cases", "plan")

    # The planner hands a plan to the dispatcher (through a person's approval when asked for),
    # or goes to the answer. approve_plan routes itself: dispatch, or END when the plan is rejected.
    builder.add_conditional_edges("plan", route_plan)

    # The dispatcher fans out ready subtasks in parallel (Send), or returns to the planner.
    builder.add_conditional_edges(
        "dispatch_subtask", route_subtasks, ["execute_with_tools", "plan"]
    )

    # Each finished wave of subtasks goes back to the dispatcher, which frees their dependents.
    builder.add_edge("execute_with_tools", "dispatch_subtask")

    # Answer, judge the reward, write the case.
    builder.add_edge("synthesize", "write_memory")
    builder.add_edge("write_memory", END)

    return builder
