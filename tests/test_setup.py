"""A fresh machine (issue 14 part 1): the embedding model is downloaded once, checked, or one clear line.

A local HTTP server serves a tar.gz built here from the shared model files, in the layout of
Chroma's archive (`onnx/model.onnx`, `onnx/tokenizer.json`, ...); its URL and SHA256 reach the
CLI through MEMENTO_EMBEDDING_MODEL_URL and MEMENTO_EMBEDDING_MODEL_SHA256. HOME and
XDG_CACHE_HOME point at empty folders, so nothing is found on disk and nothing reaches the internet.
"""

from __future__ import annotations

import functools
import hashlib
import os
import socket
import subprocess
import tarfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from cli_run import memento
from memento_graph.context import Context
from memento_graph.errors import MementoError
from memento_graph.memory.model_files import MODEL_NAME, fetch_model
from roles import script_task

SOURCE = Path(
    os.environ.get("MEMENTO_EMBEDDING_MODEL_DIR")
    or Path(__file__).resolve().parents[1].parent / "shared" / "models" / MODEL_NAME
)
FILES = sorted(p.name for p in (SOURCE / "onnx").iterdir())


class _Handler(SimpleHTTPRequestHandler):
    gets: list[str]

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.gets.append(self.path)
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Chroma's layout: a tar.gz whose members are onnx/<file> (level 1: built in about a second)."""
    folder = tmp_path_factory.mktemp("served")
    with tarfile.open(folder / "onnx.tar.gz", "w:gz", compresslevel=1) as tar:
        for name in FILES:
            tar.add(SOURCE / "onnx" / name, arcname=f"onnx/{name}")
    (folder / "not-a-model.tar.gz").write_bytes(b"this is no archive")
    with tarfile.open(folder / "other-layout.tar.gz", "w:gz") as tar:  # the files, not onnx/
        tar.add(SOURCE / "onnx" / "config.json", arcname="model/config.json")
    return folder / "onnx.tar.gz"


@pytest.fixture
def server(archive: Path):
    """Serve the archive's folder on 127.0.0.1; `.gets` lists the paths requested."""
    handler = type("Handler", (_Handler,), {"gets": []})
    httpd = ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(archive.parent))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.gets = handler.gets  # type: ignore[attr-defined]
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"  # type: ignore[attr-defined]
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fresh(tmp_path: Path, home: Path) -> dict[str, str]:
    """The environment of a fresh machine: empty HOME and user cache, no model folder set."""
    env = {k: v for k, v in os.environ.items() if k != "MEMENTO_EMBEDDING_MODEL_DIR"}
    env.update(
        HOME=str(tmp_path / "user"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
    )
    return env


def cached(env: dict[str, str]) -> list[Path]:
    """Every file memento keeps in the user cache (onnxruntime keeps one of its own there)."""
    return sorted(
        p for p in (Path(env["XDG_CACHE_HOME"]) / "memento-graph").rglob("*") if p.is_file()
    )


def model_folder(env: dict[str, str]) -> Path:
    return Path(env["XDG_CACHE_HOME"]) / "memento-graph" / "onnx_models" / MODEL_NAME / "onnx"


def one_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode != 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def test_first_run_downloads_the_model_once_and_setup_then_finds_it(llm, server, archive, fresh):
    env = {
        **fresh,
        "MEMENTO_EMBEDDING_MODEL_URL": f"{server.url}/onnx.tar.gz",
        "MEMENTO_EMBEDDING_MODEL_SHA256": sha256(archive),
    }
    script_task(llm, ["look it up"], "42")
    proc = memento("run", "What is six times seven?", env=env)
    assert proc.returncode == 0, proc.stderr
    assert f"downloading the embedding model {MODEL_NAME}" in proc.stderr
    assert server.gets == ["/onnx.tar.gz"]
    folder = model_folder(env)
    assert cached(env) == [folder / name for name in FILES]  # no archive, no partial download
    for name in FILES:
        assert (folder / name).read_bytes() == (SOURCE / "onnx" / name).read_bytes()

    again = memento("setup", env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == f"embedding model {MODEL_NAME} ready in {folder}"
    assert server.gets == ["/onnx.tar.gz"]  # found: not downloaded again
    proc = memento("run", "What is six times seven?", env=env)
    assert proc.returncode == 0 and "downloading" not in proc.stderr, proc.stderr
    assert server.gets == ["/onnx.tar.gz"]


def test_setup_downloads_into_the_user_cache_and_the_model_embeds_as_the_source(
    server, archive, fresh, monkeypatch
):
    env = {
        **fresh,
        "MEMENTO_EMBEDDING_MODEL_URL": f"{server.url}/onnx.tar.gz",
        "MEMENTO_EMBEDDING_MODEL_SHA256": sha256(archive).upper(),  # either case is a SHA256
    }
    proc = memento("setup", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"embedding model {MODEL_NAME} ready in {model_folder(env)}"
    from memento_graph.memory.embeddings import OnnxMiniLM

    texts = ["Who invented the telephone?", "a b c"]
    got = OnnxMiniLM(model_folder(env)).embed(texts)
    assert np.allclose(got, OnnxMiniLM(SOURCE / "onnx").embed(texts), atol=1e-6)


def test_a_checksum_mismatch_is_one_line_and_keeps_nothing(server, fresh):
    env = {
        **fresh,
        "MEMENTO_EMBEDDING_MODEL_URL": f"{server.url}/onnx.tar.gz",
        "MEMENTO_EMBEDDING_MODEL_SHA256": "0" * 64,
    }
    error = one_error(memento("setup", env=env))
    assert "SHA256" in error and "0" * 64 in error and "nothing was kept" in error
    assert server.gets == ["/onnx.tar.gz"]
    assert cached(env) == []


def test_offline_is_one_line_saying_what_to_do(fresh, home):
    url = f"http://127.0.0.1:{free_port()}/onnx.tar.gz"  # nobody listens there
    env = {**fresh, "MEMENTO_EMBEDDING_MODEL_URL": url}
    error = one_error(memento("setup", env=env))
    assert error.startswith(
        f"error: could not download the embedding model {MODEL_NAME} from {url}"
    )
    assert "`memento setup` when online" in error and "MEMENTO_EMBEDDING_MODEL_DIR" in error
    assert "shared/models" not in error and "../" not in error
    assert cached(env) == []


def test_a_first_run_offline_fails_before_any_thread_exists(llm, fresh, home):
    env = {**fresh, "MEMENTO_EMBEDDING_MODEL_URL": f"http://127.0.0.1:{free_port()}/x.tar.gz"}
    script_task(llm, ["look it up"], "42")
    for args in (["run", "What is six times seven?"], ["run", "What is 6*7?", "--json"]):
        proc = memento(*args, env=env)
        assert "could not download the embedding model" in one_error(proc)
    assert llm.requests() == []  # no model was called either
    threads = memento("threads", env=env)
    assert threads.returncode == 0, threads.stderr
    from memento_graph.thread_index import ThreadIndex

    assert ThreadIndex(home).list(10) == []


def test_a_named_model_folder_is_never_downloaded_into(fresh, tmp_path, server):
    env = {
        **fresh,
        "MEMENTO_EMBEDDING_MODEL_DIR": str(tmp_path / "models"),
        "MEMENTO_EMBEDDING_MODEL_URL": f"{server.url}/onnx.tar.gz",
    }
    error = one_error(memento("setup", env=env))
    assert str(tmp_path / "models") in error and "MEMENTO_EMBEDDING_MODEL_DIR" in error
    assert server.gets == [] and not (tmp_path / "models").exists()


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("not-a-model.tar.gz", "cannot be unpacked"),
        ("other-layout.tar.gz", "holds no onnx/model.onnx"),
    ],
)
def test_an_archive_that_is_not_the_model_keeps_nothing(server, archive, tmp_path, name, why):
    from rich.console import Console

    base = tmp_path / "cache" / MODEL_NAME
    served = archive.parent / name
    with pytest.raises(MementoError, match=why) as err:
        fetch_model(f"{server.url}/{name}", sha256(served), base, Console(stderr=True))
    assert "\n" not in str(err.value) and "nothing was kept" in str(err.value)
    assert server.gets == [f"/{name}"] and not base.exists()


def test_bad_download_settings_are_refused_naming_them(monkeypatch):
    monkeypatch.setenv("MEMENTO_EMBEDDING_MODEL_URL", "ftp://example.org/x.tar.gz")
    with pytest.raises(MementoError, match="MEMENTO_EMBEDDING_MODEL_URL"):
        Context()
    monkeypatch.delenv("MEMENTO_EMBEDDING_MODEL_URL")
    monkeypatch.setenv("MEMENTO_EMBEDDING_MODEL_SHA256", "abc")
    with pytest.raises(MementoError, match="MEMENTO_EMBEDDING_MODEL_SHA256"):
        Context()


def test_setup_has_nothing_to_download_for_an_endpoint_and_refuses_an_unknown_model(fresh):
    proc = memento("setup", env={**fresh, "MEMENTO_EMBEDDING_MODEL": "openai:emb"})
    assert proc.returncode == 0 and "nothing to download" in proc.stdout, proc.stderr
    error = one_error(memento("setup", env={**fresh, "MEMENTO_EMBEDDING_MODEL": "minilm"}))
    assert "unknown embedding model 'minilm'" in error


def test_studio_gets_the_model_before_it_serves(fresh, home):
    """Offline on a fresh machine, `memento studio` is one line before any server starts."""
    port = free_port()
    env = {**fresh, "MEMENTO_EMBEDDING_MODEL_URL": f"http://127.0.0.1:{free_port()}/x.tar.gz"}
    proc = memento("studio", "--port", str(port), env=env, timeout=60)
    assert "could not download the embedding model" in one_error(proc)
    assert "langgraph" not in proc.stdout.lower()  # no server was started
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # the port is still free: nothing listens there
