"""An embedder that remembers its most recent vectors, so one text is embedded once.

The add path embeds a memory's text twice in a row: the extractor's classifier embeds it to
file it, and the add embeds the same string to store and de-duplicate it. Wrapping the one
embedder both use in a ``CachedEmbedder`` makes the second call a lookup.

The cache is keyed by a BLAKE2b digest of the text, not the text itself, so it keeps no
plaintext of anyone's memories; it holds at most ``maxsize`` vectors (1.5 KB each at 384
dimensions) and forgets the least recently used first. Vectors are only ever the inner
embedder's own output for that exact text: an embedder whose vector for a text depends on
the other texts in its call (batched int8 inference does, slightly) still gives the vector it
gave the first time.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from ..types import Embedder

DEFAULT_CACHE_SIZE = 2048


class CachedEmbedder:
    """``Embedder`` in front of another, with a bounded LRU of recent vectors."""

    def __init__(self, inner: Embedder, *, maxsize: int = DEFAULT_CACHE_SIZE) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.inner = inner
        self.maxsize = maxsize
        self._vectors: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dim(self) -> int:
        return self.inner.dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("embed() takes a sequence of texts, not a single string")
        items = list(texts)
        keys = [_key(text) for text in items]
        found: dict[int, np.ndarray] = {}
        with self._lock:
            for position, key in enumerate(keys):
                vector = self._vectors.get(key)
                if vector is not None:
                    self._vectors.move_to_end(key)
                    found[position] = vector
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
                return computed  # malformed: the caller's own shape check says so, and nothing is cached
            fresh = {key: computed[row].copy() for row, key in enumerate(first_of)}
            with self._lock:
                for key, vector in fresh.items():
                    vector.flags.writeable = False  # shared by every later caller
                    self._vectors[key] = vector
                    self._vectors.move_to_end(key)
                while len(self._vectors) > self.maxsize:
                    self._vectors.popitem(last=False)
            for position, key in enumerate(keys):
                if position not in found:
                    found[position] = fresh[key]
        return np.stack([found[position] for position in range(len(items))])

    def clear(self) -> None:
        with self._lock:
            self._vectors.clear()


def _key(text: str) -> bytes:
    if not isinstance(text, str):
        raise TypeError(f"embed() takes texts, got {type(text).__name__}")
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
