"""The local embedding model's files: found on disk, or downloaded once into the user cache.

The archive is the one Chroma's default embedding function downloads (all-MiniLM-L6-v2 as ONNX: a
tar.gz holding `onnx/model.onnx`, `onnx/tokenizer.json` and their configuration), checked against
its SHA256 before anything is unpacked. A download is written to a private folder next to its
target and moved into place only when complete, so a failed one leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs
from rich.console import Console

from memento_graph.errors import MementoError

if TYPE_CHECKING:
    from memento_graph.context import Context

MODEL_NAME = "all-MiniLM-L6-v2"
REQUIRED = ("model.onnx", "tokenizer.json")
TIMEOUT = 30.0  # seconds of silence before the download is given up
_PART = ".fetch-"  # prefix of a download in progress: .fetch-<pid>-<random>
_WHAT_TO_DO = (
    "run `memento setup` when online, or set MEMENTO_EMBEDDING_MODEL_DIR to a folder holding "
    "onnx/model.onnx and onnx/tokenizer.json, or use MEMENTO_EMBEDDING_MODEL=openai:<model>"
)


def cache_dir() -> Path:
    """Return where the model is downloaded to: the user cache (XDG_CACHE_HOME on Linux)."""
    return Path(platformdirs.user_cache_dir("memento-graph")) / "onnx_models" / MODEL_NAME


def chroma_cache_dir() -> Path:
    """Return where Chroma's default embedding function keeps the same files."""
    return Path.home() / ".cache" / "chroma" / "onnx_models" / MODEL_NAME


def _holding(base: Path) -> Path | None:
    for folder in (base / "onnx", base):
        if all((folder / name).is_file() for name in REQUIRED):
            return folder
    return None


def find_model(context: Context) -> Path | None:
    """Return the folder holding the model files, or None when they are nowhere to be found."""
    if context.embedding_model_dir:
        return _holding(Path(context.embedding_model_dir).expanduser())
    for base in (cache_dir(), chroma_cache_dir()):
        found = _holding(base)
        if found is not None:
            return found
    return None


def ensure_model(context: Context, console: Console | None = None) -> Path:
    """Return the model folder, downloading it into the user cache first when it is missing.

    A folder named by MEMENTO_EMBEDDING_MODEL_DIR is used as is, never downloaded into.
    """
    found = find_model(context)
    if found is not None:
        return found
    if context.embedding_model_dir:
        raise MementoError(
            f"embedding model {MODEL_NAME} not found in {context.embedding_model_dir} "
            "(MEMENTO_EMBEDDING_MODEL_DIR): put onnx/model.onnx and onnx/tokenizer.json there, or "
            "unset MEMENTO_EMBEDDING_MODEL_DIR to download the model once into the user cache "
            "(`memento setup`)"
        )
    return fetch_model(
        context.embedding_model_url,
        context.embedding_model_sha256,
        cache_dir(),
        console or Console(stderr=True),
    )


def fetch_model(url: str, sha256: str, base: Path, console: Console) -> Path:
    """Download the archive at `url`, check its SHA256, unpack it as `base`/onnx; return that folder."""
    try:
        base.mkdir(parents=True, exist_ok=True)
        _remove_abandoned(base)
        work = Path(tempfile.mkdtemp(prefix=f"{_PART}{os.getpid()}-", dir=base))
    except OSError as exc:
        raise _unwritable(base, exc) from None
    try:
        archive = work / "onnx.tar.gz"
        got = _download(url, archive, console)
        if got != sha256.lower():
            raise MementoError(
                f"the embedding model archive from {url} has SHA256 {got}, not the expected "
                f"{sha256.lower()} (MEMENTO_EMBEDDING_MODEL_SHA256): nothing was kept; run "
                "`memento setup` to try again"
            )
        folder = _unpack(archive, work / "unpacked", url)
        return _move_into_place(folder, base / "onnx")
    except OSError as exc:
        raise _unwritable(base, exc) from None
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with contextlib.suppress(OSError):
            base.rmdir()  # only when empty: a failed first download leaves no folder


def _download(url: str, into: Path, console: Console) -> str:
    """Stream `url` into `into` with a progress bar; return the SHA256 of what was received."""
    import httpx
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    digest = hashlib.sha256()
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=TIMEOUT) as response:
            if response.status_code != 200:
                raise _offline(url, f"HTTP {response.status_code} {response.reason_phrase}")
            size = int(response.headers.get("content-length") or 0) or None
            shown = f" ({size / 1e6:.0f} MB)" if size else ""
            console.print(
                f"downloading the embedding model {MODEL_NAME}{shown} from {url} (once)",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
            columns = (
                TextColumn(MODEL_NAME),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
            )
            progress = Progress(
                *columns, console=console, transient=True, disable=not console.is_terminal
            )
            with progress, into.open("wb") as out:
                task = progress.add_task("download", total=size)
                for chunk in response.iter_bytes(1 << 16):
                    out.write(chunk)
                    digest.update(chunk)
                    progress.advance(task, len(chunk))
    except httpx.HTTPError as exc:
        raise _offline(url, str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    return digest.hexdigest()


def _unpack(archive: Path, into: Path, url: str) -> Path:
    """Unpack the archive (no links or paths outside it); return the folder holding the files."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(into, filter="data")
    except (tarfile.TarError, EOFError) as exc:
        raise MementoError(
            f"the embedding model archive from {url} cannot be unpacked ({exc}): nothing was kept"
        ) from None
    folder = _holding(into)
    if folder is None:
        raise MementoError(
            f"the embedding model archive from {url} holds no onnx/model.onnx and "
            "onnx/tokenizer.json: nothing was kept"
        )
    return folder


def _move_into_place(folder: Path, target: Path) -> Path:
    """Move a complete model folder to `target` (a process that got there first wins)."""
    if _holding(target) is not None:
        return target
    if target.exists():  # an incomplete folder (copied by hand, or an old layout): set aside
        shutil.rmtree(target)
    try:
        folder.rename(target)
    except OSError:
        if _holding(target) is None:
            raise
    return target


def _remove_abandoned(base: Path) -> None:
    """Remove the download folders of processes that no longer run (killed mid-download)."""
    for part in base.glob(f"{_PART}*"):
        pid = part.name[len(_PART) :].partition("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(part, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _offline(url: str, reason: str) -> MementoError:
    return MementoError(
        f"could not download the embedding model {MODEL_NAME} from {url} ({reason}): {_WHAT_TO_DO}"
    )


def _unwritable(base: Path, exc: OSError) -> MementoError:
    why = exc.strerror or type(exc).__name__
    return MementoError(
        f"cannot save the embedding model in {base}: {why}; free some space or set XDG_CACHE_HOME, "
        "or set MEMENTO_EMBEDDING_MODEL_DIR to a folder holding onnx/model.onnx and "
        "onnx/tokenizer.json"
    )
