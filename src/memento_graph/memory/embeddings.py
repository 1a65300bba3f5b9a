"""Embedders of the case bank: local all-MiniLM-L6-v2 (ONNX) or an OpenAI-compatible endpoint.

Every embedder returns L2-normalised float32 rows, so cosine similarity is a dot product, and has an `id`
recorded on each case (a case bank re-embeds when the embedder changes).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from memento_graph.errors import MementoError

if TYPE_CHECKING:
    from memento_graph.context import Context

DEFAULT_MODEL = "all-MiniLM-L6-v2"
LOCAL_NAMES = (DEFAULT_MODEL, f"onnx:{DEFAULT_MODEL}", f"sentence-transformers/{DEFAULT_MODEL}")
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for all-MiniLM-L6-v2


class Embedder(Protocol):
    """Turns texts into L2-normalised vectors."""

    id: str

    def embed(self, texts: list[str]) -> np.ndarray:
        """Return one normalised float32 row per text."""
        ...


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Return the rows of `vectors` scaled to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class OnnxMiniLM:
    """all-MiniLM-L6-v2 run with onnxruntime: dynamic padding, length-sorted batches, mean pooling."""

    def __init__(self, model_dir: Path, batch_size: int = 32) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.id = f"onnx:{DEFAULT_MODEL}"
        self.batch_size = batch_size
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}

    def _batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return normalise(pooled)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts in batches of similar length (less padding), returned in input order."""
        out = np.zeros((len(texts), 384), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            out[idx] = self._batch([texts[i] or " " for i in idx])
        return out


class OpenAIEmbedder:
    """Embeddings from an OpenAI-compatible `/v1/embeddings` endpoint (OPENAI_BASE_URL)."""

    def __init__(self, model: str) -> None:
        from langchain_openai import OpenAIEmbeddings

        self.id = f"openai:{model}"
        # check_embedding_ctx_length=False sends raw strings (no tiktoken download, works with any server)
        self._client = OpenAIEmbeddings(model=model, check_embedding_ctx_length=False)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts through the endpoint, normalised."""
        try:
            return normalise(np.array(self._client.embed_documents(list(texts)), dtype=np.float32))
        except Exception as exc:  # noqa: BLE001 - one clear line for any transport error
            raise MementoError(
                f"embedding endpoint failed ({self.id}): {exc}".splitlines()[0]
            ) from exc


class CachedEmbedder:
    """Wraps an embedder with a small LRU cache, so a task embedded to retrieve is not embedded again."""

    def __init__(self, inner: Embedder, size: int = 512) -> None:
        self.inner = inner
        self.id = inner.id
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts, reusing cached rows for texts seen recently."""
        if len(texts) > self._size:  # bulk (import, re-embed): do not churn the cache
            return self.inner.embed(texts)
        with self._lock:
            found = {t: self._cache[t] for t in texts if t in self._cache}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            found.update(zip(missing, self.inner.embed(missing), strict=True))
        with self._lock:
            for text in texts:
                self._cache[text] = found[text]
                self._cache.move_to_end(text)
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return np.stack([found[t] for t in texts])


_EMBEDDERS: dict[str, Embedder] = {}
_LOCK = threading.Lock()


def make_embedder(name: str, context: Context | None = None) -> Embedder:
    """Return the (shared, cached) embedder for `all-MiniLM-L6-v2` or `openai:<model>`.

    The local model's files are looked up (and downloaded once when missing) per `context`
    (default: the settings of the environment).
    """
    with _LOCK:
        if name.startswith("openai:"):
            key = name
        elif name in LOCAL_NAMES:
            from memento_graph.context import Context
            from memento_graph.memory.model_files import ensure_model

            model_dir = ensure_model(context or Context())
            key = f"{DEFAULT_MODEL}|{model_dir.resolve()}"
        else:
            raise MementoError(
                f"unknown embedding model {name!r}: use {DEFAULT_MODEL} or openai:<model>"
            )
        if key not in _EMBEDDERS:
            if name.startswith("openai:"):
                inner: Embedder = OpenAIEmbedder(name.split(":", 1)[1])
            else:
                inner = OnnxMiniLM(model_dir)
            _EMBEDDERS[key] = CachedEmbedder(inner)
        return _EMBEDDERS[key]


def is_local(name: str) -> bool:
    """Tell whether `name` is the local ONNX model (whose files must be on disk)."""
    return name in LOCAL_NAMES
