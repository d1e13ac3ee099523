"""Embeddings from any endpoint speaking OpenAI's ``POST /embeddings`` wire format.

That covers OpenAI itself, Azure-style gateways, vLLM, llama.cpp's server, Ollama's ``/v1``,
LM Studio and most hosted providers. Every failure surfaces as ``EmbeddingEndpointError`` (a
``ServiceUnavailable``), never as an httpx exception, so callers handle one error type.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import httpx
import numpy as np

from memoryos_server.engine.embeddings._errors import EmbeddingEndpointError
from memoryos_server.engine.embeddings._vectors import as_text_list, empty_vectors, l2_normalize

DEFAULT_TIMEOUT_SECONDS = 30.0
# OpenAI accepts up to 2,048 inputs per request; smaller batches keep each request well under
# proxies' body limits and a timeout meaningful.
DEFAULT_BATCH_SIZE = 128
_RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
_MAX_BACKOFF_SECONDS = 8.0
_DIMENSION_PROBE = "dimension probe"


class OpenAICompatibleEmbedder:
    """Calls ``POST {base_url}/embeddings`` and returns unit-length float32 rows."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        dim: int | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_retries: int = 2,
        backoff_seconds: float = 0.25,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http(s) URL, e.g. https://api.openai.com/v1")
        if not model:
            raise ValueError("model must name the embedding model")
        if dim is not None and dim < 1:
            raise ValueError("dim must be positive")
        if batch_size < 1 or max_retries < 0:
            raise ValueError("batch_size must be at least 1 and max_retries at least 0")
        self.name = f"openai-compatible:{model}"
        self.model = model
        self.url = base_url.rstrip("/") + "/embeddings"
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.backoff_seconds = backoff_seconds
        self._api_key = api_key
        self._timeout = httpx.Timeout(timeout)
        self._dim = dim
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never show the key
        return f"OpenAICompatibleEmbedder(url={self.url!r}, model={self.model!r}, dim={self._dim!r})"

    @property
    def dim(self) -> int:
        """The vector size: as configured, or learnt from the endpoint.

        Without ``dim=`` the first read sends one short probe request. (On Python 3.11,
        ``isinstance(x, Embedder)`` reads it too; pass ``dim=`` to keep that offline.)
        """
        if self._dim is None:
            self._request([_DIMENSION_PROBE])
        assert self._dim is not None
        return self._dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        items = as_text_list(texts)
        if not items:
            return empty_vectors(self.dim)
        batches = [self._request(items[i : i + self.batch_size]) for i in range(0, len(items), self.batch_size)]
        return l2_normalize(np.concatenate(batches))

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def __enter__(self) -> OpenAICompatibleEmbedder:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- one request, with retries ---------------------------------------------------------

    def _request(self, batch: list[str]) -> np.ndarray:
        payload = {"model": self.model, "input": batch}
        attempt = 0
        while True:
            retry_after: float | None = None
            try:
                response = self._http().post(self.url, json=payload)
            except httpx.TimeoutException as exc:
                failure = EmbeddingEndpointError(f"embeddings endpoint {self.url} timed out", details={"url": self.url})
                failure.__cause__ = exc
            except httpx.TransportError as exc:
                failure = EmbeddingEndpointError(
                    f"embeddings endpoint {self.url} is unreachable: {exc}", details={"url": self.url}
                )
                failure.__cause__ = exc
            else:
                if response.is_success:
                    return self._parse(response, expected=len(batch))
                failure = EmbeddingEndpointError(
                    f"embeddings endpoint {self.url} answered HTTP {response.status_code}: {_snippet(response)}",
                    details={"url": self.url, "status": response.status_code},
                )
                if response.status_code not in _RETRYABLE_STATUS:
                    raise failure
                retry_after = _retry_after_seconds(response)
            if attempt >= self.max_retries:
                raise failure
            delay = retry_after if retry_after is not None else self.backoff_seconds * 2**attempt
            time.sleep(min(delay, _MAX_BACKOFF_SECONDS))
            attempt += 1

    def _parse(self, response: httpx.Response, *, expected: int) -> np.ndarray:
        try:
            body = response.json()
            items = sorted(body["data"], key=lambda item: int(item["index"]))
            rows = [_decode_embedding(item["embedding"]) for item in items]
        except (ValueError, KeyError, TypeError) as exc:
            raise EmbeddingEndpointError(
                f"embeddings endpoint {self.url} answered an unreadable body", details={"url": self.url}
            ) from exc
        if len(rows) != expected:
            raise EmbeddingEndpointError(
                f"embeddings endpoint {self.url} returned {len(rows)} vectors for {expected} inputs",
                details={"url": self.url},
            )
        sizes = {row.shape[0] for row in rows}
        if len(sizes) != 1:
            raise EmbeddingEndpointError(f"embeddings endpoint {self.url} returned vectors of mixed sizes")
        size = sizes.pop()
        if self._dim is None:
            self._dim = size
        elif size != self._dim:
            raise EmbeddingEndpointError(
                f"embeddings endpoint {self.url} returned {size} dimensions; {self._dim} are configured",
                details={"url": self.url, "expected": self._dim, "received": size},
            )
        matrix = np.stack(rows)
        if not np.isfinite(matrix).all() or not np.linalg.norm(matrix, axis=1).all():
            raise EmbeddingEndpointError(f"embeddings endpoint {self.url} returned a zero or non-finite vector")
        return matrix

    def _http(self) -> httpx.Client:
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
                    self._client = httpx.Client(timeout=self._timeout, headers=headers)
                client = self._client
        return client


def _decode_embedding(value: Any) -> np.ndarray:
    # Some servers answer base64 (little-endian float32) by default instead of a JSON list.
    if isinstance(value, str):
        return np.frombuffer(base64.b64decode(value, validate=True), dtype="<f4").astype(np.float32)
    if not isinstance(value, list) or not value:
        raise TypeError("embedding is not a non-empty list")
    return np.asarray(value, dtype=np.float32)


def _retry_after_seconds(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["retry-after"]))
    except (KeyError, ValueError):
        return None


def _snippet(response: httpx.Response, limit: int = 200) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:limit] + ("…" if len(text) > limit else "")
