"""The case bank on a Chroma server: `MEMENTO_CHROMA_URL=http://host:port` selects `chromadb.HttpClient`.

A Chroma server is the store several processes (CLI runs, LangGraph server workers) can write at
once. The embedded PersistentClient is single-process: `hold_casebank` keeps a second process out.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from memento_graph.errors import MementoError
from memento_graph.settings import SETTINGS

_CLIENTS: dict[str, Any] = {}
_HELD: dict[str, Any] = {}
_LOCK = threading.Lock()


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
            _CLIENTS[url] = client
        return _CLIENTS[url]


def hold_casebank(folder: Path) -> None:
    """Lock an embedded case bank folder for this process's lifetime (one process at a time).

    Two processes writing one embedded Chroma folder corrupt its index, so a second process waits
    up to `MEMENTO_CASEBANK_WAIT` seconds (default 30) for the first to exit, then refuses.
    """
    key = str(folder.resolve())
    with _LOCK:
        if key in _HELD:
            return
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(folder / ".memento.lock", "a+")  # noqa: SIM115 - held until the process exits
        deadline = time.monotonic() + _wait()
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    owner = handle.read().strip() or "?"
                    handle.close()
                    raise MementoError(
                        f"the case bank {folder} is in use by another memento process (pid {owner}): "
                        "embedded Chroma is single-process; wait for it, or set MEMENTO_CHROMA_URL "
                        "to a Chroma server for concurrent runs"
                    ) from None
                time.sleep(0.2)
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        _HELD[key] = handle


def _wait() -> float:
    return max(0.0, SETTINGS.casebank_wait)
