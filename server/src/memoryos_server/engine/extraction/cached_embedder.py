"""An embedder that remembers vectors for the length of one operation, so one text is embedded once.

The add path embeds a memory's text twice in a row: the extractor's classifier embeds it to
file it, and the add embeds the same string to store and de-duplicate it. Inside
``CachedEmbedder.scope()`` (one add, one queued job) the second call is a lookup.

The vectors are remembered for that operation alone and never shared between operations. A
cache shared by the whole process answered a text someone else had embedded recently a few
milliseconds sooner, and that difference could be timed: any caller able to make the server
embed a text of its choosing (an add, an edit) could tell whether another tenant or end-user
had stored that exact text, even after their deletion. Outside a scope every call goes to the
inner embedder.

Within a scope, vectors are keyed by a BLAKE2b digest of the text (the scope keeps no
plaintext), at most ``maxsize`` of them (1.5 KB each at 384 dimensions), the least recently
used forgotten first. They are only ever the inner embedder's own output for that exact text
(or, seeded, the vectors the same operation computed before its transaction: ``scope(seed)``):
an embedder whose vector for a text depends on the other texts in its call (batched int8
inference does, slightly) still gives the vector it gave the first time.
"""

from __future__ import annotations

import contextvars
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any, TypeVar

import numpy as np

from ..types import Embedder

DEFAULT_CACHE_SIZE = 2048

K = TypeVar("K")
V = TypeVar("V")

# The vectors of the operation running in this thread (or task), per embedder.
_SCOPES: contextvars.ContextVar[dict[int, OrderedDict[bytes, np.ndarray]] | None] = contextvars.ContextVar(
    "memoryos_embedding_scope", default=None
)


class CachedEmbedder:
    """``Embedder`` in front of another, remembering vectors within a ``scope()``."""

    def __init__(self, inner: Embedder, *, maxsize: int = DEFAULT_CACHE_SIZE) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.inner = inner
        self.maxsize = maxsize
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    @contextmanager
    def scope(self, seed: Mapping[str, np.ndarray] | None = None) -> Iterator[None]:
        """Remember this embedder's vectors until the block ends (a scope already open in this
        thread is joined, not replaced). ``seed``: vectors already computed for these texts by
        the same operation (an add's, before its transaction)."""
        scopes = _SCOPES.get()
        token = None
        if scopes is None:
            scopes = {}
            token = _SCOPES.set(scopes)
        opened = id(self) not in scopes
        vectors = scopes.setdefault(id(self), OrderedDict())
        for text, vector in (seed or {}).items():
            vectors[_key(text)] = _frozen(vector)
        try:
            yield
        finally:
            if opened:
                scopes.pop(id(self), None)
            if token is not None:
                _SCOPES.reset(token)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not a single string")
        items = list(texts)
        keys = [_key(text) for text in items]
        scopes = _SCOPES.get()
        remembered = scopes.get(id(self)) if scopes is not None else None
        found: dict[int, np.ndarray] = {}
        if remembered is not None:
            for position, key in enumerate(keys):
                vector = remembered.get(key)
                if vector is not None:
                    remembered.move_to_end(key)
                    found[position] = vector
        with self._lock:
            self.hits += len(found)
            self.misses += len(items) - len(found)
        if not items:
            return self.inner.embed([])
        if len(found) < len(items):
            # Each distinct missing text once, in one call to the inner embedder.
            first_of: dict[bytes, int] = {}
            for position, key in enumerate(keys):
                if position not in found:
                    first_of.setdefault(key, position)
            computed = np.asarray(self.inner.embed([items[i] for i in first_of.values()]), dtype=np.float32)
            if computed.ndim != 2 or len(computed) != len(first_of):
                return computed  # malformed: the caller's own shape check says so, and nothing is kept
            fresh = {key: _frozen(computed[row]) for row, key in enumerate(first_of)}
            if remembered is not None:
                remember(remembered, fresh, self.maxsize)
            for position, key in enumerate(keys):
                if position not in found:
                    found[position] = fresh[key]
        return np.stack([found[position] for position in range(len(items))])


def remember(store: OrderedDict[K, V], entries: Mapping[K, V], bound: int) -> None:
    """Put ``entries`` in a least-recently-used ``store`` as its newest, then forget its oldest
    past ``bound`` (the caller holds whatever lock guards the store)."""
    for key, value in entries.items():
        store[key] = value
        store.move_to_end(key)
    while len(store) > bound:
        store.popitem(last=False)


def embedding_scope(embedder: Embedder, seed: Mapping[str, np.ndarray] | None = None) -> Any:
    """``embedder.scope(seed)`` for a ``CachedEmbedder``; for any other, a block that does nothing."""
    return embedder.scope(seed) if isinstance(embedder, CachedEmbedder) else nullcontext()


def _frozen(vector: np.ndarray) -> np.ndarray:
    vector = np.array(vector, dtype=np.float32, copy=True)
    vector.flags.writeable = False  # shared by every later caller in the scope
    return vector


def _key(text: str) -> bytes:
    if not isinstance(text, str):
        raise TypeError(f"embed() takes texts, got {type(text).__name__}")
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
