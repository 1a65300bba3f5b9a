"""The `memento` entry point: show that a run is starting, then load the command line (app.py).

Loading typer, rich and the commands takes about half a second; on a terminal `memento run` and
`memento resume` show a "starting…" line before that (startup.py), erased by the first output.
"""

from __future__ import annotations

import sys

from memento_graph.startup import show_starting


def main() -> None:
    """Entry point: show the starting line on a terminal, then run the command line."""
    show_starting(sys.argv[1:])
    from memento_graph.app import main as run_app

    run_app()


if __name__ == "__main__":
    main()
