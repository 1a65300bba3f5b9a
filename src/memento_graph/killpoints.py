"""A test hook: SIGKILL this process at a named point, to test that runs and imports survive it.

For tests only. `MEMENTO_TEST_KILL_AT=<point>` (or `<point>@<n>`: the n-th time the point is
reached in this process) makes `reached(point)` kill the process on the spot, as a crash, an
OOM kill or a pulled plug would; without the variable `reached` does nothing. Points:
`thread_started` (in the thread index, before the first checkpoint), `after:<node>` (the node's
update was streamed, agent.py), `retrieved` (cases chosen, before
retrieve_cases returns), `case_written` (the case is in the case bank, its episode not yet
recorded), `episode_recorded` (the episode is recorded, before the checkpoint of write_memory),
`import_batch` (a batch of imported cases is stored, portability.py).
"""

from __future__ import annotations

import os
import signal
from collections import Counter

from memento_graph.settings import SETTINGS

_seen: Counter[str] = Counter()


def reached(point: str) -> None:
    """Kill this process with SIGKILL when MEMENTO_TEST_KILL_AT names `point` (a test hook)."""
    wanted = SETTINGS.test_kill_at
    if not wanted:
        return
    name, _, nth = wanted.partition("@")
    if name != point:
        return
    _seen[point] += 1
    if _seen[point] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
