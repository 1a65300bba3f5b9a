"""`memento feedback THREAD_ID --reward 0|1 [--note TEXT]`: the user's verdict overrides the judge."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from memento_graph.errors import MementoError


def feedback(
    thread_id: Annotated[str, typer.Argument(help="Thread id of a finished run.")],
    reward: Annotated[int, typer.Option("--reward", help="1: the answer was right, 0: wrong.")],
    note: Annotated[str | None, typer.Option("--note", help="Why (kept as the rationale).")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Namespace of the run.")] = None,
) -> None:
    """Set a run's reward: updates its episode, its case and the learned policy."""
    if reward not in (0, 1):
        raise MementoError(f"--reward must be 0 or 1, got {reward}")
    from memento_graph.context import Context
    from memento_graph.memory import open_memory

    context = Context(user=user) if user is not None else Context()
    memory = open_memory(context)
    case = memory.feedback(thread_id, float(reward), note)
    where = f"case {case['id']} now reward {case['reward']:g}" if case else "no case"
    typer.echo(f"feedback recorded for {thread_id}: reward {reward} ({where})")
    _to_langsmith(context, thread_id, float(reward), note)


def _to_langsmith(context: Any, thread_id: str, reward: float, note: str | None) -> None:
    """Send the verdict to the thread's last traced run, when tracing is on and it was traced."""
    from memento_graph.thread_index import ThreadIndex
    from memento_graph.tracing import active, send_user_feedback

    if not active():
        return
    row = ThreadIndex(context.home_path).get(thread_id) or {}
    if row.get("trace_run"):
        send_user_feedback(row["trace_run"], reward, note)
    else:
        typer.echo(f"warning: LangSmith: thread {thread_id} has no traced run", err=True)
