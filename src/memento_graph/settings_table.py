"""The README's configuration tables, generated from the definitions of every setting.

`python -m memento_graph.settings_table` prints them; tests/test_settings.py checks the README.
"""

from __future__ import annotations

import sys
from dataclasses import fields
from typing import Any

from memento_graph.context import Context, env_name
from memento_graph.settings import LIBRARY, Settings


def _shown(default: Any, shown: str) -> str:
    if shown:
        return shown
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, float) and default.is_integer():
        return f"{default:g}"
    return str(default) if default != "" else "unset"


def table() -> str:
    """Return the README's configuration tables (Markdown), made from Context, SETTINGS and LIBRARY."""
    head = "| variable | type | default | meaning |\n| --- | --- | --- | --- |"
    run = [
        f"| `{env_name(f)}` | {type(f.default).__name__} | "
        f"{_shown(f.default, f.metadata.get('shown', ''))} | {f.metadata['description']} |"
        for f in fields(Context)
    ]
    process = [
        f"| `{s.env}` | {s.kind} | {_shown(s.default, s.shown)} | {s.description} |"
        for s in Settings.all()
        if not s.internal
    ]
    library = [f"| `{name}` | {meaning} |" for name, meaning in LIBRARY.items()]
    return "\n".join(
        [
            "Per run: fields of `Context` (`context.py`, a form in Studio).",
            "",
            head,
            *run,
            "",
            "Per process: `SETTINGS` (`settings.py`), read when used.",
            "",
            head,
            *process,
            "",
            "Read by the libraries (other programs' variables memento passes on or reads):",
            "",
            "| variable | meaning |\n| --- | --- |",
            *library,
        ]
    )


if __name__ == "__main__":
    sys.stdout.write(table() + "\n")
