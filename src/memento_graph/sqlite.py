"""SQLite stores shared by several processes: WAL, a busy timeout, race-free first creation."""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING


def _import_sqlite_utils() -> ModuleType:
    """Import sqlite_utils without pandas (1-2 s of a run's start).

    sqlite_utils imports pandas only to add `pandas.Timestamp` as a column type; no store of ours
    holds pandas values.
    """
    if "sqlite_utils" in sys.modules or "pandas" in sys.modules:
        import sqlite_utils
    else:
        # None in sys.modules makes `import pandas` fail (typeshed allows modules only)
        sys.modules["pandas"] = None  # type: ignore[assignment]
        try:
            import sqlite_utils
        finally:
            del sys.modules["pandas"]
    return sqlite_utils


if TYPE_CHECKING:
    import sqlite_utils
else:
    sqlite_utils = _import_sqlite_utils()


def open_db(path: Path, create: Callable[[sqlite_utils.Database], None]) -> sqlite_utils.Database:
    """Open `path` for use by several processes and run `create` (idempotent) to make its tables.

    Two processes creating a new store at the same moment can see `database is locked` even with
    a busy timeout (SQLite refuses a lock upgrade that could deadlock), so creation is retried.
    """
    conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
    conn.execute("PRAGMA busy_timeout=30000")
    db = sqlite_utils.Database(conn)
    for attempt in range(50):
        try:
            db.execute("PRAGMA journal_mode=WAL")
            create(db)
            return db
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 49:
                raise
            time.sleep(0.05 * (attempt + 1))
    return db
