"""The case bank's Chroma client: a Chroma server, or an embedded folder several processes share.

`MEMENTO_CHROMA_URL=http://host:port` selects `chromadb.HttpClient`: the server orders writes.
Otherwise the case bank is an embedded `PersistentClient` folder, which `memento run`, `memento
studio` (its `langgraph dev`) and other commands open at the same time. Two writers corrupt its
vector index, so every write holds the folder's lock exclusively (`flock` on `.memento.lock`, for
the length of one Chroma call or one `exclusive()` section) and reads hold it shared. A process's
open client keeps its vector index in memory and would not see another process's writes: each
write bumps a counter (`.memento.writes`), and a process whose client predates the counter reopens
it before its next call.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from memento_graph.errors import MementoError
from memento_graph.settings import SETTINGS

_CLIENTS: dict[str, Any] = {}
_FOLDERS: dict[str, FolderBank] = {}
_LOCK = threading.Lock()
WRITES = frozenset({"add", "upsert", "update", "delete", "modify"})
"""Collection methods that write."""
LOCK_WAITS: deque[float] = deque(maxlen=10_000)
"""Seconds each exclusive lock of this process waited for another process (measured, for bench/)."""


def chroma_url() -> str:
    """Return `MEMENTO_CHROMA_URL` (empty means the embedded Chroma in the data directory)."""
    return SETTINGS.chroma_url


def http_client(url: str) -> Any:
    """Return the (process-wide) Chroma HttpClient for `url`; a one-line error if unreachable."""
    import chromadb
    from chromadb.config import Settings

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MementoError(f"MEMENTO_CHROMA_URL={url!r} is not an http(s)://host:port address")
    with _LOCK:
        if url not in _CLIENTS:
            try:
                client = chromadb.HttpClient(
                    host=parts.hostname,
                    port=parts.port or (443 if parts.scheme == "https" else 8000),
                    ssl=parts.scheme == "https",
                    settings=Settings(anonymized_telemetry=False),
                )
                client.heartbeat()
            except Exception as exc:  # noqa: BLE001 - connection errors come in many types
                reason = " ".join(str(exc).split())[:200]
                raise MementoError(f"cannot reach the Chroma server {url}: {reason}") from None
            _CLIENTS[url] = ServerBank(client)
        return _CLIENTS[url]


def folder_bank(folder: Path) -> FolderBank:
    """Return the (process-wide) embedded case bank of `folder`."""
    key = str(folder.resolve())
    with _LOCK:
        if key not in _FOLDERS:
            _FOLDERS[key] = FolderBank(Path(key))
        return _FOLDERS[key]


def release_banks() -> None:
    """Close and forget every case bank this process opened (a bank held for its lifetime stays)."""
    with _LOCK:
        for key, bank in list(_FOLDERS.items()):
            if not bank.held:
                bank.close()
                del _FOLDERS[key]
        _CLIENTS.clear()


def hold_casebank(folder: Path) -> None:
    """Keep every other process from the embedded case bank until this process exits (repairs)."""
    folder_bank(folder).hold()


def held_here(folder: Path) -> bool:
    """Tell whether this process holds `folder`'s lock for its lifetime."""
    bank = _FOLDERS.get(str(folder.resolve()))
    return bool(bank and bank.held)


class Guarded:
    """A collection whose every call goes through its bank: reads shared, writes exclusive."""

    def __init__(self, bank: Any, name: str) -> None:
        self.bank, self.name = bank, name
        self._collection: Any = None
        self._epoch = -1

    def __getattr__(self, attr: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            for pause in (*_RETRY_PAUSES, None):
                with self.bank.access(write=attr in WRITES) as client:
                    if self._epoch != self.bank.epoch:  # the client was reopened: fetch anew
                        self._collection = client.get_collection(self.name)
                        self._epoch = self.bank.epoch
                    try:
                        return getattr(self._collection, attr)(*args, **kwargs)
                    except Exception as exc:
                        if pause is None or attr in WRITES or not _transient(exc):
                            raise
                time.sleep(pause)

        return call


# A Chroma server answers a read that races another client's first writes to a collection with
# "Error creating hnsw segment reader: Nothing found on disk" (chroma-core/chroma#4212): read again.
_RETRY_PAUSES = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)


def _transient(exc: Exception) -> bool:
    return type(exc).__name__ == "InternalError" and "Nothing found on disk" in str(exc)


class Bank:
    """A Chroma client behind `access`: the collection-level calls the case bank makes."""

    epoch = 0

    @contextmanager
    def access(self, write: bool) -> Iterator[Any]:  # pragma: no cover - overridden
        """Yield the client for one call (exclusive when `write`)."""
        raise NotImplementedError
        yield

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the write lock for a section of several calls (read, decide, write)."""
        with self.access(write=True):
            yield

    def get_or_create_collection(self, name: str, **options: Any) -> Guarded:
        """Return the collection `name`, creating it (with `options`) when missing."""
        with self.access(write=False) as client:
            if name in _names(client):
                return Guarded(self, name)
        with self.access(write=True) as client:
            client.get_or_create_collection(name, **options)
        return Guarded(self, name)

    def get_collection(self, name: str) -> Guarded:
        """Return the existing collection `name`."""
        with self.access(write=False) as client:
            client.get_collection(name)
        return Guarded(self, name)

    def list_collections(self) -> list[Guarded]:
        """Return every collection."""
        with self.access(write=False) as client:
            return [Guarded(self, name) for name in _names(client)]

    def delete_collection(self, name: str) -> None:
        """Delete a collection and its cases."""
        with self.access(write=True) as client:
            client.delete_collection(name)


def _names(client: Any) -> list[str]:
    return [getattr(c, "name", c) for c in client.list_collections()]


class ServerBank(Bank):
    """A Chroma server: it orders concurrent writes itself; calls run one at a time per process."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.mutex = threading.RLock()

    @contextmanager
    def access(self, write: bool) -> Iterator[Any]:
        """Yield the client (one thread at a time)."""
        with self.mutex:
            yield self.client


class FolderBank(Bank):
    """An embedded Chroma folder shared by processes: writes exclusive, readers refreshed.

    Calls run one at a time per process (Chroma's local client is not safe for a query racing the
    first writes of a collection from another thread), and a thread inside an `exclusive()`
    section may make any call.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.mutex = threading.RLock()
        self.handle = open(folder / ".memento.lock", "a+")  # noqa: SIM115 - kept for the process
        self.counter = folder / ".memento.writes"
        self.client: Any = None
        self.seen: str | None = None  # the write counter our client reflects
        self.held = False  # exclusive for the process's lifetime (hold)
        self.mode: str | None = None  # "write" or "read" while this process holds the lock
        self.depth = 0

    @contextmanager
    def access(self, write: bool) -> Iterator[Any]:
        """Yield the current client under the lock: exclusive to write, shared to read."""
        with self.mutex:
            if self.depth:  # inside a section of this thread
                if write and self.mode == "read":
                    raise RuntimeError("a case bank write inside a read section")
                self.depth += 1
                try:
                    yield self._current()
                finally:
                    self.depth -= 1
                    if write:
                        self._bump()
                return
            if not self.held:
                self._lock(fcntl.LOCK_EX if write else fcntl.LOCK_SH)
            self.mode, self.depth = ("write" if write or self.held else "read"), 1
            try:
                yield self._current()
            finally:
                try:
                    if write:
                        self._bump()
                finally:
                    self.mode, self.depth = None, 0
                    if not self.held:
                        fcntl.flock(self.handle, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the Chroma client and the lock file (nothing is held afterwards)."""
        with self.mutex:
            if self.client is not None:
                self.client.close()
                self.client = None
            self.handle.close()

    def hold(self) -> None:
        """Take the lock exclusively until the process exits."""
        with self.mutex:
            if not self.held:
                self._lock(fcntl.LOCK_EX)
                self.held = True

    def _lock(self, kind: int) -> None:
        """Take the folder's lock, waiting up to MEMENTO_CASEBANK_WAIT seconds for other processes."""
        started = time.monotonic()
        deadline = started + _wait()
        while True:
            try:
                fcntl.flock(self.handle, kind | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self.handle.seek(0)
                    owner = self.handle.read().strip() or "?"
                    raise MementoError(
                        f"the case bank {self.folder} is held by another memento process (pid "
                        f"{owner}) for more than {_wait():g} s (MEMENTO_CASEBANK_WAIT); wait for "
                        "it, or set MEMENTO_CHROMA_URL to a Chroma server"
                    ) from None
                time.sleep(0.005)
        if kind == fcntl.LOCK_EX:
            LOCK_WAITS.append(time.monotonic() - started)
            self.handle.seek(0)
            self.handle.truncate(0)
            self.handle.write(str(os.getpid()))
            self.handle.flush()

    def _current(self) -> Any:
        """Return the client, reopened when another process wrote since it was opened."""
        seen = self._count()
        if self.client is None or seen != self.seen:
            import chromadb
            from chromadb.config import Settings

            if self.client is not None:
                self.client.close()  # drops its in-memory vector index
            try:
                self.client = chromadb.PersistentClient(
                    path=str(self.folder), settings=Settings(anonymized_telemetry=False)
                )
            except Exception as exc:
                self.client = None
                raise _opening_error(self.folder, exc) from None
            self.seen = seen
            self.epoch += 1
        return self.client

    def _count(self) -> str:
        try:
            return self.counter.read_text().strip()
        except FileNotFoundError:
            return "0"

    def _bump(self) -> None:
        """Count one write (we hold the lock exclusively): other processes reopen before reading."""
        value = str(int(self._count() or 0) + 1)
        self.counter.write_text(value)
        self.seen = value


def _opening_error(folder: Path, exc: Exception) -> Exception:
    """Forget Chroma's half-started system for `folder` and return the error that stopped it.

    Chroma keeps a failed system in its process-wide cache and, on release, stops components that
    never started (an AttributeError that hides the cause, e.g. a damaged file): the next open
    must start from nothing and report the cause.
    """
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient._identifier_to_system.pop(str(folder), None)
    SharedSystemClient._identifier_to_refcount.pop(str(folder), None)
    cause: BaseException | None = exc
    while cause is not None:
        if type(cause).__module__.startswith("chromadb") and isinstance(cause, Exception):
            return cause
        cause = cause.__cause__ or cause.__context__
    return exc


def _wait() -> float:
    return max(0.0, SETTINGS.casebank_wait)
