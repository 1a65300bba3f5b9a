"""The `memento` command line: run and resume tasks, inspect threads, cases and tools.

Heavy libraries (LangChain, LangGraph, Chroma) are imported inside commands, so `--help` is fast.
The entry point is cli.py, which shows a starting line on a terminal before importing this.
"""

from __future__ import annotations

import gc
import sys
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from typer.core import TyperOption

from memento_graph.commands import cases, doctor, feedback, run, setup, threads
from memento_graph.commands.eval import eval_command
from memento_graph.commands.studio import studio
from memento_graph.commands.tools import app as tools_app
from memento_graph.errors import MementoError

if TYPE_CHECKING:
    from typer._click import Context as ClickContext  # typer's own copy of click

console = Console(stderr=True)
out = Console()

app = typer.Typer(
    name="memento",
    help="An LLM agent that learns from experience: plan with past cases, act with tools, remember.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# Listed in --help in this order: the everyday commands first.
app.command("run")(run.run)
app.command("resume")(run.resume)
app.add_typer(threads.app, name="threads")
app.command("feedback")(feedback.feedback)
app.command("eval")(eval_command)
app.add_typer(cases.app, name="cases")
app.add_typer(tools_app, name="tools")
app.command("studio")(studio)
app.command("doctor")(doctor.doctor)
app.command("setup")(setup.setup)


def _flag_type(self: TyperOption, ctx: ClickContext) -> str | None:
    """Show no type for on/off flags (typer prints `<bool>` next to `--json`)."""
    return None if self.is_flag else _option_type(self, ctx)


_option_type = TyperOption.display_type_rich
TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]


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
        root = ctx.find_root().info_name if ctx else None  # the program's name as invoked
        where = ctx.command_path.replace(root or "", "memento", 1) if ctx else "memento"
        _error(f"{message} (see `{where} --help`)")
        sys.exit(exc.exit_code)
    except typer.Abort as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):
            _interrupted()
        _error("aborted: no answer on standard input")
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - no traceback for users unless they ask
        from memento_graph.settings import SETTINGS

        if SETTINGS.debug:
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
    gc.freeze()  # the work is done (traces flushed by then): exit without a last full collection
    sys.exit(code if isinstance(code, int) else 0)


def _interrupted() -> None:
    console.print("interrupted: resume the thread with `memento resume THREAD_ID`")
    sys.exit(130)
