"""`memento setup`: download the local embedding model once (checksum-verified) into the user cache."""

from __future__ import annotations

import typer

from memento_graph.errors import MementoError


def setup() -> None:
    """Get the local embedding model (all-MiniLM-L6-v2, ONNX) ready: found on disk or downloaded once."""
    from memento_graph.context import Context
    from memento_graph.memory.embeddings import is_local
    from memento_graph.memory.model_files import ensure_model

    ctx = Context()
    if ctx.embedding_model.startswith("openai:"):
        typer.echo(
            f"embedding model {ctx.embedding_model} is served by the endpoint: nothing to download"
        )
        return
    if not is_local(ctx.embedding_model):
        raise MementoError(
            f"unknown embedding model {ctx.embedding_model!r} (MEMENTO_EMBEDDING_MODEL): use "
            "all-MiniLM-L6-v2 or openai:<model>"
        )
    folder = ensure_model(ctx)
    typer.echo(f"embedding model {ctx.embedding_model} ready in {folder}")
