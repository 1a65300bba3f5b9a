"""release_stores() closes what a process opened (its files), and the stores open again after it."""

from __future__ import annotations

import gc
import os

from fixtures.episodes import finish
from memento_graph.context import Context
from memento_graph.memory import open_memory
from memento_graph.memory.core import release_stores


def open_files(folder) -> int:
    """Count this process's descriptors open on files under `folder`."""
    found = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            found += os.readlink(f"/proc/self/fd/{fd}").startswith(str(folder))
        except OSError:
            pass
    return found


def test_released_stores_hold_no_file_and_open_again(memory, home):
    finish(memory, "t1", "Which river flows through Paris?")
    assert open_files(home) > 0  # the case bank, its lock, the experience store
    release_stores()
    gc.collect()  # Chroma's closed client leaves reference cycles that hold its files until collected
    assert open_files(home) == 0
    again = open_memory(Context(home=str(home)))
    assert [c["task"] for c in again.list_cases()] == ["Which river flows through Paris?"]
