"""The search index every backend provides: dense (cosine) and keyword (BM25) top-k."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from sqlalchemy.orm import Session

from memoryos_server.storage.index.filters import (  # noqa: F401 — re-exported
    ALL_CATEGORIES_MASK,
    CATEGORY_CODES,
    DEFAULT_BM25,
    UNKNOWN_CATEGORY,
    BM25Weights,
    SearchFilter,
    categories_of,
    category_mask,
)

if TYPE_CHECKING:
    from memoryos_server.storage.repositories.memories import MemoryFamily

Hit = tuple[str, float]  # (memory id, score): best first in every list


class SearchIndex(Protocol):
    def dense(
        self, session: Session, family: MemoryFamily, where: SearchFilter, queries: np.ndarray, k: int
    ) -> list[list[Hit]]:
        """For each query vector (rows of ``queries``, unit length), the ``k`` nearest rows
        that ``where`` admits, with their cosine similarity."""
        ...

    def keyword(
        self,
        session: Session,
        family: MemoryFamily,
        where: SearchFilter,
        terms: Sequence[int],
        k: int,
        *,
        weights: BM25Weights = DEFAULT_BM25,
    ) -> list[Hit]:
        """The ``k`` best rows by BM25 over keyed term hashes (distinct, as the query gave them)."""
        ...


def by_key_of(column: Any, value: int) -> Any:
    """``column = value``, written so that no index on ``column`` serves it.

    For statements that also look rows up by primary key: SQLite keeps no statistics here
    and, given ``owner_id = ?``, walks every row of the owner in an owner index (100k rows
    for a big owner) instead of the few primary-key lookups. The filter itself still holds.
    """
    return (column + 0) == value
