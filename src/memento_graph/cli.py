"""The `memento` command line: run and resume tasks, inspect threads, cases and tools.

Heavy libraries (LangChain, LangGraph, Chroma) are imported inside commands, so `--help` is fast.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import click
import typer
from rich.console import Console

from memento_graph.commands import cases, doctor, feedback
from memento_graph.commands.eval import eval_command
from memento_graph.commands.studio import studio
from memento_graph.commands.tools import app as tools_app
from memento_graph.errors import MementoError

console = Console(stderr=True)
out = Console()

app = typer.Typer(
    name="memento",
    help="An LLM agent that learns from experience: plan with past cases, act with tools, remember.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
threads_app = typer.Typer(help="List threads (runs) and show one.", invoke_without_command=True)
app.add_typer(threads_app, name="threads")
app.add_typer(tools_app, name="tools")
app.add_typer(cases.app, name="cases")
app.command("feedback")(feedback.feedback)
app.command("eval")(eval_command)
app.command("studio")(studio)
app.command("doctor")(doctor.doctor)


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
    from memento_graph.runs import ThreadIndex

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
    from memento_graph.progress import Progress
    from memento_graph.runner import open_agent

    async with open_agent(ctx) as agent:
        on_event = None if as_json else Progress(console).on_event
        outcome = await start(agent, on_event)
        while outcome.status == "paused" and not as_json:
            decision = approval.ask(console, outcome.interrupt)
            if decision is None:  # no one to ask: leave the thread paused
                break
            outcome = await agent.resume(outcome.thread_id, on_event=on_event, decision=decision)
        return outcome


@app.command()
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


@app.command()
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
    from memento_graph.runs import ThreadIndex

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


@threads_app.callback()
def threads(
    typer_ctx: typer.Context,
    limit: Annotated[
        int, typer.Option(min=1, max=1_000_000, help="How many threads to list.")
    ] = 30,
) -> None:
    """List threads, newest first: status (done, interrupted, failed, running), task, time."""
    if typer_ctx.invoked_subcommand:
        return
    from rich.table import Table

    from memento_graph.context import Context
    from memento_graph.runs import ThreadIndex

    table = Table()
    table.add_column("thread", no_wrap=True)  # an id to copy: never wrapped
    for name in ("status", "started", "task"):
        table.add_column(name)
    for row in ThreadIndex(Context().home_path).list(limit):
        table.add_row(row["thread_id"], row["status"], row["started_at"], row["task"][:70])
    out.print(table)


@threads_app.command("show")
def threads_show(thread_id: Annotated[str, typer.Argument(help="The thread to show.")]) -> None:
    """Show a thread: retrieved cases, plans, subtasks with results, answer and reward."""
    from memento_graph.context import Context
    from memento_graph.progress import show_thread
    from memento_graph.runs import ThreadIndex

    row = ThreadIndex(Context().home_path).get(thread_id)
    if row is None:
        raise MementoError(f"unknown thread: {thread_id} (see `memento threads`)")
    show_thread(out, row, asyncio.run(_values(thread_id)))


async def _values(thread_id: str) -> dict[str, Any]:
    from memento_graph.checkpoint import open_checkpointer
    from memento_graph.context import Context
    from memento_graph.graph import builder

    async with open_checkpointer(Context()) as saver:
        graph = builder.compile(checkpointer=saver)
        snapshot = await graph.aget_state({"configurable": {"thread_id": thread_id}})
        return dict(snapshot.values or {})


def _error(message: str) -> None:
    console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)


def main() -> None:
    """Entry point: run the app; user errors print one line and exit non-zero."""
    try:
        code = app(standalone_mode=False)
    except MementoError as exc:
        _error(str(exc))
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:  # a bad option or argument: one line, not a usage box
        message = " ".join(exc.format_message().split())
        if not message:  # no arguments: the help was printed
            sys.exit(exc.exit_code)
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path.replace(ctx.info_name or "", "memento", 1) if ctx else "memento"
        _error(f"{message} (see `{where} --help`)")
        sys.exit(exc.exit_code)
    except typer.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):
            _interrupted()
        _error("aborted: no answer on standard input")
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - no traceback for users unless they ask
        if os.environ.get("MEMENTO_DEBUG"):
            raise
        from memento_graph.stores import explain

        damaged = explain(exc)
        if damaged is not None:
            _error(str(damaged))
            sys.exit(damaged.exit_code)
        _error(f"{type(exc).__name__}: {exc} (MEMENTO_DEBUG=1 shows the traceback)")
        sys.exit(1)
    except KeyboardInterrupt:
        _interrupted()
    sys.exit(code if isinstance(code, int) else 0)


def _interrupted() -> None:
    console.print("interrupted: resume the thread with `memento resume THREAD_ID`")
    sys.exit(130)


if __name__ == "__main__":
    main()
