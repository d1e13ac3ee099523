"""A tiny deterministic embedder for tests and model-free setups.

Feature hashing of normalised words and of character trigrams within each word, so texts
that share words (or word stems: "prefer" / "preferred") land near each other. Hashes come
from BLAKE2b rather than ``hash()``, whose value changes with every process, so vectors are
stable across runs and machines.
"""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from collections.abc import Sequence

import numpy as np

from memoryos_server.engine.embeddings._vectors import as_text_list, empty_vectors

_WORD = re.compile(r"\w+")
_WORD_WEIGHT = 1.0
_TRIGRAM_WEIGHT = 0.35
# Function words carry little meaning, but dropping them would leave "is it?" with no
# features at all; they keep a small weight and contribute no trigrams.
_STOP_WORD_WEIGHT = 0.15
_STOP_WORDS = frozenset(
    "a an and are as at be but by do does for from has have i if in is it its me my of on or "
    "our so that the their them they this to was we were what when which who will with you your".split()
)
# Texts with no word characters (empty, punctuation only) all map to this one feature.
_EMPTY_FEATURE = "\x00empty"
# The word memo is bounded so a long-running process cannot grow it without limit.
_MAX_MEMO = 200_000
_CHUNK = 1024


class HashingEmbedder:
    """Deterministic, dependency-free embeddings: fast, and only lexically meaningful."""

    def __init__(self, dim: int = 384) -> None:
        if dim < 8:
            raise ValueError("dim must be at least 8")
        self.dim = dim
        self.name = f"hashing-{dim}"
        # word -> (columns, signed weights) of all its features; words repeat far more often
        # than they are new, so each is hashed once.
        self._word_memo: dict[str, tuple[list[int], list[float]]] = {}
        self._memo_lock = threading.Lock()
        self._empty_column, self._empty_sign = _slot(_EMPTY_FEATURE, dim)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        items = as_text_list(texts)
        if not items:
            return empty_vectors(self.dim)
        # Chunks bound the float64 scratch matrix and keep it in cache: faster, and no spike.
        return np.concatenate([self._embed_chunk(items[i : i + _CHUNK]) for i in range(0, len(items), _CHUNK)])

    def _embed_chunk(self, items: list[str]) -> np.ndarray:
        rows: list[int] = []
        columns: list[int] = []
        values: list[float] = []
        for row, text in enumerate(items):
            for word in _WORD.findall(unicodedata.normalize("NFKC", text).casefold()):
                word_columns, word_values = self._word_memo.get(word) or self._remember(word)
                rows.extend([row] * len(word_columns))
                columns.extend(word_columns)
                values.extend(word_values)
        flat = np.asarray(rows, dtype=np.int64) * self.dim + np.asarray(columns, dtype=np.int64)
        # One bincount builds the whole (n, dim) matrix; colliding features add up.
        matrix = np.bincount(flat, weights=values, minlength=len(items) * self.dim).reshape(len(items), self.dim)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        # No words (empty or punctuation-only text), or features cancelling out: every such
        # text gets the same fixed unit vector, so rows always have unit length.
        zero = norms[:, 0] == 0
        if zero.any():
            matrix[zero] = 0.0
            matrix[zero, self._empty_column] = self._empty_sign
            norms[zero] = 1.0
        return (matrix / norms).astype(np.float32)

    def _remember(self, word: str) -> tuple[list[int], list[float]]:
        columns: list[int] = []
        values: list[float] = []
        for feature, weight in _word_features(word):
            column, sign = _slot(feature, self.dim)
            columns.append(column)
            values.append(sign * weight)
        with self._memo_lock:
            if len(self._word_memo) >= _MAX_MEMO:
                self._word_memo.clear()
            self._word_memo[word] = (columns, values)
        return columns, values


def _word_features(word: str) -> list[tuple[str, float]]:
    if word in _STOP_WORDS:
        return [("w:" + word, _STOP_WORD_WEIGHT)]
    marked = f"<{word}>"
    return [("w:" + word, _WORD_WEIGHT)] + [("t:" + marked[i : i + 3], _TRIGRAM_WEIGHT) for i in range(len(marked) - 2)]


def _slot(feature: str, dim: int) -> tuple[int, float]:
    """Column and sign of a feature; the sign bit keeps collisions unbiased on average."""
    digest = int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "little")
    return (digest >> 1) % dim, (1.0 if digest & 1 else -1.0)
