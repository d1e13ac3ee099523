"""Errors the embedders raise; both are a ``ServiceUnavailable`` to the rest of the server."""

from __future__ import annotations

from memoryos_server.errors import ServiceUnavailable


class EmbeddingModelMissing(ServiceUnavailable):
    """The local model's files are not installed, or are incomplete."""

    error = "embedding_model_missing"


class EmbeddingEndpointError(ServiceUnavailable):
    """A remote embeddings endpoint failed, timed out or answered something unusable."""

    error = "embedding_endpoint_error"
