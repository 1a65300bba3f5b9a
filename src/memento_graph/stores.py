"""The stores of a data directory: check each one, name a damaged one in one line (store_repair.py repairs).

Stores: threads.sqlite (checkpoints), runs.sqlite (thread index), experience.sqlite (episodes), the
policy state (rows of experience.sqlite) and casebank/ (Chroma). A repair never deletes: a damaged
file or folder is moved aside to `<name>.damaged-<timestamp>`, and a fresh one is made on next use.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from memento_graph.errors import MementoError

REPAIR = "move it aside or run `memento doctor --repair`"
SQLITE = (
    ("threads", "threads.sqlite", "checkpoints of every thread"),
    ("runs", "runs.sqlite", "the thread index"),
    ("experience", "experience.sqlite", "episodes and the policy state"),
)


class StoreDamaged(MementoError):
    """A store that cannot be read: the message names its file and what to do."""

    def __init__(self, path: Path | str, reason: str, fix: str = REPAIR) -> None:
        self.path, self.reason = Path(path), reason
        super().__init__(f"{path} is damaged ({reason}): {fix}")


@dataclass
class Status:
    """How one store stands."""

    store: str
    path: Path
    status: str
    """ok, missing (made on first use), damaged, busy (in use by a run), remote or unchecked."""
    detail: str = ""


def sqlite_problem(path: Path) -> str | None:
    """Return why an SQLite file cannot be read (PRAGMA quick_check), or None when it reads fine."""
    try:
        conn = sqlite3.connect(str(path), timeout=10)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return None  # in use, not damaged
        return str(exc)
    except sqlite3.DatabaseError as exc:
        return str(exc)
    if rows != [("ok",)]:
        return " ".join("; ".join(str(r[0]) for r in rows[:2]).split())[:200]
    return None


def policy_problems(path: Path) -> list[tuple[str, str]]:
    """Return (key, reason) for each policy state in experience.sqlite that does not load."""
    from memento_graph.memory.policy_state import read_state

    try:
        conn = sqlite3.connect(str(path), timeout=10)
        try:
            tables = {r[0] for r in conn.execute("select name from sqlite_master")}
            rows = (
                conn.execute("select key, state from policy_state").fetchall()
                if ("policy_state" in tables)
                else []
            )
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return []  # the file itself is damaged: reported as such
    problems = []
    for key, blob in rows:
        try:
            read_state(blob)
        except ValueError as exc:
            problems.append((key, str(exc)[:100]))
    return problems


def is_remote(store: str) -> bool:
    """Return whether a store (threads, runs, experience, policy, casebank) is on a server."""
    from memento_graph.checkpoint import checkpoint_url
    from memento_graph.memory.chroma_client import chroma_url
    from memento_graph.memory.experience_postgres import postgres_url

    if store in ("experience", "policy"):
        return bool(postgres_url())
    return (
        bool(checkpoint_url()) if store == "threads" else store == "casebank" and bool(chroma_url())
    )


def check(home: Path, open_chroma: bool = True) -> list[Status]:
    """Check every store of a data directory; `open_chroma` also opens the case bank and counts it."""
    found = []
    for store, name, _ in SQLITE:
        path = home / name
        if is_remote(store):
            found.append(Status(store, path, "remote", "on a server: not checked"))
        elif not path.exists():
            found.append(Status(store, path, "missing", "made on first use"))
        elif (problem := sqlite_problem(path)) is not None:
            found.append(Status(store, path, "damaged", problem))
        else:
            found.append(Status(store, path, "ok"))
    experience = home / "experience.sqlite"
    if found[2].status == "remote":
        found.append(Status("policy", experience, "remote", "on a server: not checked"))
    elif found[2].status == "ok":
        bad = policy_problems(experience)
        detail = "; ".join(f"{key}: {why}" for key, why in bad)
        found.append(Status("policy", experience, "damaged" if bad else "ok", detail))
    else:
        status = "missing" if found[2].status == "missing" else "unchecked"
        found.append(
            Status("policy", experience, status, f"experience.sqlite is {found[2].status}")
        )
    found.append(_casebank(home / "casebank", open_chroma))
    return found


def _casebank(folder: Path, open_chroma: bool) -> Status:
    if is_remote("casebank"):
        return Status("casebank", folder, "remote", "on a Chroma server: not checked")
    db = folder / "chroma.sqlite3"
    if not db.exists():
        return Status("casebank", folder, "missing", "made on first use")
    if (problem := sqlite_problem(db)) is not None:
        return Status("casebank", folder, "damaged", f"chroma.sqlite3: {problem}")
    if not open_chroma:
        return Status("casebank", folder, "ok")
    owner = _in_use(folder)
    if owner:
        return Status("casebank", folder, "busy", f"in use by memento process {owner}")
    try:
        from memento_graph.memory.case_bank import read_every_collection

        counts = read_every_collection(folder)
    except MementoError:
        raise
    except Exception as exc:  # noqa: BLE001 - Chroma fails in many types
        return Status("casebank", folder, "damaged", " ".join(str(exc).split())[:200])
    return Status("casebank", folder, "ok", f"{sum(counts)} cases in {len(counts)} collections")


def _in_use(folder: Path) -> str | None:
    """Return the pid holding the case bank lock (writing or repairing) when another process does."""
    lock = folder / ".memento.lock"
    if not lock.exists():
        return None
    from memento_graph.memory.chroma_client import held_here

    if held_here(folder):
        return None  # this process
    with open(lock, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            return handle.read().strip() or "?"
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


# -- a failure explained ------------------------------------------------------------------------------
def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 20:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _storage_like(exc: BaseException) -> bool:
    for e in _chain(exc):
        text = str(e).lower()
        if isinstance(e, sqlite3.DatabaseError) and "locked" not in text and "busy" not in text:
            return True
        if type(e).__module__.startswith("chromadb") or "malformed" in text:
            return True
        if "not a database" in text or "no such table" in text:
            return True
    return False


def explain(exc: BaseException, home: Path | None = None) -> StoreDamaged | None:
    """Return a StoreDamaged naming the damaged store behind `exc`, or None when no store is damaged.

    Called on unexpected errors only: it checks the local stores (quick_check), so it costs nothing on
    the normal path.
    """
    for e in _chain(exc):
        if isinstance(e, StoreDamaged):
            return e
    if not _storage_like(exc):
        return None
    try:
        from memento_graph.context import default_home

        statuses = check(Path(home or default_home()).expanduser(), open_chroma=False)
    except Exception:  # noqa: BLE001 - explaining must never fail
        return None
    bad = [s for s in statuses if s.status == "damaged" and s.store != "policy"]
    bad = bad or [s for s in statuses if s.status == "damaged"]
    if not bad:
        return None
    reason = bad[0].detail
    if len(bad) > 1:
        reason += "; also damaged: " + ", ".join(str(s.path) for s in bad[1:])
    return StoreDamaged(bad[0].path, reason)


def home_of(path: str | os.PathLike[str] | None = None) -> Path:
    """Return the data directory (MEMENTO_HOME or the user data dir) without creating it."""
    from memento_graph.context import default_home

    return Path(path or default_home()).expanduser()
