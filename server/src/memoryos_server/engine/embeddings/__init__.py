"""Embedders: the local MiniLM model (default), an OpenAI-compatible endpoint, and a hashing
embedder for tests. All implement ``memoryos_server.engine.types.Embedder``.

Importing this package is cheap: ONNX Runtime, the tokenizer and the model load on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from memoryos_server.engine.embeddings._errors import EmbeddingEndpointError, EmbeddingModelMissing
from memoryos_server.engine.embeddings.hashing import HashingEmbedder
from memoryos_server.engine.embeddings.local import LocalMiniLMEmbedder
from memoryos_server.engine.embeddings.openai_compat import OpenAICompatibleEmbedder
from memoryos_server.engine.types import Embedder

__all__ = [
    "EMBEDDER_KINDS",
    "EmbedderKind",
    "EmbeddingEndpointError",
    "EmbeddingModelMissing",
    "HashingEmbedder",
    "LocalMiniLMEmbedder",
    "OpenAICompatibleEmbedder",
    "build_embedder",
]

EmbedderKind = Literal["local", "openai", "hashing"]
EMBEDDER_KINDS: tuple[str, ...] = ("local", "openai", "hashing")


def build_embedder(
    kind: str = "local",
    *,
    cache_dir: Path,
    base_url: str | None = None,
    model: str | None = None,
    api_key: str | None = None,
    dim: int | None = None,
    threads: int | None = None,
) -> Embedder:
    """Return the embedder named by ``kind``; nothing is loaded or called yet.

    ``cache_dir`` holds the local model's built ONNX files and ``threads`` sets its intra-op
    threads. ``base_url`` and ``model`` are required for "openai"; ``dim`` sets the hashing
    size or pins the endpoint's vector size (the local model's is fixed at 384).
    """
    if kind == "local":
        if dim not in (None, LocalMiniLMEmbedder.dim):
            raise ValueError(f"the local model has {LocalMiniLMEmbedder.dim} dimensions, not {dim}")
        return LocalMiniLMEmbedder(cache_dir, threads=threads)
    if kind == "openai":
        if not base_url or not model:
            raise ValueError("the openai embedder needs base_url and model")
        return OpenAICompatibleEmbedder(base_url, model, api_key=api_key, dim=dim)
    if kind == "hashing":
        return HashingEmbedder() if dim is None else HashingEmbedder(dim)
    raise ValueError(f"unknown embedder kind {kind!r}; expected one of {', '.join(EMBEDDER_KINDS)}")
