"""`memento doctor [--repair]`: check every store of the data directory, repair what is safe."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from memento_graph.errors import MementoError


def doctor(
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Move damaged stores aside (<name>.damaged-<time>, never deleted), rebuild what "
            "can be derived, reset an unreadable policy state.",
        ),
    ] = False,
) -> None:
    """Check the stores (threads, thread index, experience, policy state, case bank); repair them."""
    from memento_graph import store_repair, stores

    home = stores.home_of()
    out = Console(width=max(Console().width, 160))
    if repair:
        for action in store_repair.repair(home):
            out.print(f"repaired: {action}", markup=False, highlight=False, soft_wrap=True)
    statuses = stores.check(home)
    table = Table(title=f"stores in {home}")
    for name in ("store", "path", "status"):
        table.add_column(name, no_wrap=name == "path")
    for st in statuses:
        status = f"{st.status}: {st.detail}" if st.detail else st.status
        table.add_row(st.store, str(st.path), status)
    out.print(table)
    bad = [st for st in statuses if st.status == "damaged"]
    if bad:
        names = ", ".join(f"{st.store} ({st.path})" for st in bad)
        hint = "move them aside by hand" if repair else "run `memento doctor --repair`"
        raise MementoError(f"{len(bad)} damaged: {names}: {hint}")
