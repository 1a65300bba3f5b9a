"""`memento run` and `memento resume`: start or continue a task on the agent, answer plan approvals."""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import click
import typer
from rich.console import Console

from memento_graph.errors import MementoError

console = Console(stderr=True)
out = Console()


def _context(**overrides: Any) -> Any:
    """Build the run Context from options over environment variables."""
    from memento_graph.context import Context

    return Context(**{k: v for k, v in overrides.items() if v is not None})


MAX_TASK = 100_000  # characters (~25k tokens): longer input goes in a file (--file)
_THREAD_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def check_thread_id(thread_id: str) -> str:
    """Refuse a thread id that is not 1-128 letters, digits, `.`, `_`, `:` or `-` (no paths)."""
    if not _THREAD_ID.fullmatch(thread_id) or ".." in thread_id:
        raise MementoError(
            f"--thread-id {thread_id[:80]!r} is not valid: use up to 128 letters, digits, '.', '_', "
            "':' or '-', starting with a letter or digit (no '/' or '..')"
        )
    return thread_id


def _need_key() -> None:
    if not os.environ.get("OPENAI_API_KEY"):
        raise MementoError(
            "OPENAI_API_KEY is not set: export it (any non-empty value works for local servers; "
            "set OPENAI_BASE_URL for Ollama, vLLM or another OpenAI-compatible endpoint)"
        )


@contextmanager
def _json_failure(as_json: bool, known: dict[str, Any]) -> Iterator[None]:
    """Under --json, print a failure raised inside as the outcome JSON on stdout, then re-raise.

    `known` holds the thread id once one is chosen, and the data directory; the id is reported
    only when that thread exists (a failure before its first step reports null).
    """
    try:
        yield
    except (typer.Exit, typer.Abort, typer.TyperException, click.exceptions.Exit):
        raise
    except Exception as exc:
        from memento_graph.stores import explain

        damaged = None if isinstance(exc, MementoError) else explain(exc)
        if damaged is not None:  # a damaged store: one line naming the file
            exc = damaged
        if as_json:
            user = isinstance(exc, MementoError)
            failure = {
                "status": "failed",
                "thread_id": _existing(known),
                "error": str(exc) if user else f"{type(exc).__name__}: {exc}",
                "error_kind": "error" if user else "crash",
            }
            out.print_json(json.dumps(failure))
        if damaged is not None:
            raise damaged from None
        raise


def _existing(known: dict[str, Any]) -> str | None:
    """Return the known thread id when the thread index has it."""
    thread_id, home = known.get("thread_id"), known.get("home")
    if not thread_id or home is None:
        return None
    from memento_graph.thread_index import ThreadIndex

    try:
        return thread_id if ThreadIndex(home).get(thread_id) else None
    except Exception:  # noqa: BLE001 - an unreadable index: the id cannot be vouched for
        return None


def _finish(outcome: Any, as_json: bool) -> None:
    """Print an outcome and exit non-zero when the run did not finish."""
    from dataclasses import asdict

    from memento_graph.progress import show_outcome

    if as_json:
        out.print_json(json.dumps(asdict(outcome), default=str))
    else:
        show_outcome(out, outcome)
    if outcome.status == "failed":
        console.print(
            f"error: {outcome.error}; resume with `memento resume {outcome.thread_id}`",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)
    if outcome.status == "interrupted":
        raise typer.Exit(1)


async def _run_or_resume(ctx: Any, as_json: bool, start: Any) -> Any:
    """Open the agent, start (run or resume), and answer plan approvals on the terminal."""
    from memento_graph import approval
    from memento_graph.agent import open_agent
    from memento_graph.progress import Progress

    async with open_agent(ctx) as agent:
        on_event = None if as_json else Progress(console).on_event
        outcome = await start(agent, on_event)
        while outcome.status == "paused" and not as_json:
            decision = approval.ask(console, outcome.interrupt)
            if decision is None:  # no one to ask: leave the thread paused
                break
            outcome = await agent.resume(outcome.thread_id, on_event=on_event, decision=decision)
    from memento_graph.commands.studio import tell_studio

    await asyncio.to_thread(tell_studio, ctx.home_path, outcome.thread_id)  # Studio shows it
    return outcome


def run(
    task: Annotated[str, typer.Argument(help="The task: a question or an instruction.")],
    file: Annotated[
        list[str], typer.Option("--file", "-f", help="Attach a file (repeatable).")
    ] = [],  # noqa: B006
    thread_id: Annotated[str | None, typer.Option(help="Thread id (default: a new one).")] = None,
    ground_truth: Annotated[
        str | None, typer.Option(help="Known answer: the reward is judged against it.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
    policy: Annotated[
        str | None, typer.Option(help="Case-selection policy: similarity, learned or none.")
    ] = None,
    user: Annotated[str | None, typer.Option(help="Namespace of the cases.")] = None,
    mcp_config: Annotated[str | None, typer.Option(help="mcp.json with more MCP servers.")] = None,
    approve_plan: Annotated[
        bool, typer.Option("--approve-plan", help="Pause after planning: approve, edit or reject.")
    ] = False,
) -> None:
    """Run a task: retrieve cases, plan, execute subtasks with tools, answer, remember."""
    known: dict[str, Any] = {}
    with _json_failure(as_json, known):
        if not task.strip():
            raise MementoError("the task is empty: give the question or instruction to work on")
        if len(task) > MAX_TASK:
            raise MementoError(
                f"the task is {len(task):,} characters, more than {MAX_TASK:,}: "
                "put long input in a file and attach it with --file"
            )
        if thread_id is not None:
            check_thread_id(thread_id)
        _need_key()
        ctx = _context(
            policy=policy, user=user, mcp_config=mcp_config, approve_plan=approve_plan or None
        )
        known.update(home=ctx.home_path, thread_id=thread_id or str(uuid.uuid4()))

        async def start(agent: Any, on_event: Any) -> Any:
            return await agent.run(
                task,
                files=file,
                ground_truth=ground_truth,
                thread_id=known["thread_id"],
                on_event=on_event,
            )

        outcome = asyncio.run(_run_or_resume(ctx, as_json, start))
    _finish(outcome, as_json)


def resume(
    thread_id: Annotated[str, typer.Argument(help="The thread to continue.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
    decision: Annotated[
        str | None, typer.Option(help="Answer a paused plan approval: approve or reject.")
    ] = None,
    plan: Annotated[
        str | None,
        typer.Option("--plan", help="Answer a paused plan approval with this plan (JSON file)."),
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why the plan is rejected.")] = None,
) -> None:
    """Resume an interrupted, failed or paused thread where it stopped, without redoing finished work."""
    from memento_graph.approval import decision_from_options
    from memento_graph.context import Context
    from memento_graph.thread_index import ThreadIndex

    known: dict[str, Any] = {"thread_id": thread_id}
    with _json_failure(as_json, known):
        answer = decision_from_options(decision, plan, reason)
        _need_key()
        known["home"] = Context().home_path
        row = ThreadIndex(known["home"]).get(thread_id)
        if row is None:
            raise MementoError(f"unknown thread: {thread_id} (see `memento threads`)")
        ctx = _context(**json.loads(row["context"] or "{}"))

        async def start(agent: Any, on_event: Any) -> Any:
            return await agent.resume(thread_id, on_event=on_event, decision=answer)

        outcome = asyncio.run(_run_or_resume(ctx, as_json, start))
    _finish(outcome, as_json)
