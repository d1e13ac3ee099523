"""Small helpers every embedder shares."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def as_text_list(texts: Sequence[str]) -> list[str]:
    """Return ``texts`` as a list, refusing a bare string.

    A ``str`` is itself a sequence of strings; embedding it character by character would be
    a silent, expensive mistake.
    """
    if isinstance(texts, str):
        raise TypeError("embed() takes a sequence of texts, not a single string")
    items = list(texts)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"embed() takes texts, got {type(item).__name__}")
    return items


def empty_vectors(dim: int) -> np.ndarray:
    return np.zeros((0, dim), dtype=np.float32)


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Scale each row to unit length; an all-zero row stays zero rather than becoming NaN."""
    matrix = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)
