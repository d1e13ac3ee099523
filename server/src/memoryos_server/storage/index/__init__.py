"""Search indexes. All dialect-specific storage code lives in this package.

- ``SearchIndex`` (``base``): dense top-k by cosine and keyword top-k by BM25, per owner,
  with every filter applied inside the query. ``build_search_index`` picks the backend:
  ``postgres`` (pgvector + SQL BM25) or ``sqlite`` (per-owner matrices in worker memory).
- ``state``: the per-owner generation counter and BM25 statistics that writers advance.
- ``postings``: writes of keyword postings (keyed term hashes only).
"""

from __future__ import annotations

from memoryos_server.storage.index.base import CATEGORY_CODES, Hit, KeywordRead, SearchIndex
from memoryos_server.storage.index.filters import categories_of, category_mask
from memoryos_server.storage.index.filters import BM25Weights, SearchFilter
from memoryos_server.storage.index.state import OwnerIndexStats


def build_search_index(dialect: str, *, dim: int) -> SearchIndex:
    if dialect == "postgresql":
        from memoryos_server.storage.index.postgres import PostgresSearchIndex

        return PostgresSearchIndex(dim=dim)
    if dialect == "sqlite":
        from memoryos_server.storage.index.sqlite import SQLiteSearchIndex

        return SQLiteSearchIndex(dim=dim)
    raise ValueError(f"no search index for the {dialect} dialect")


__all__ = [
    "CATEGORY_CODES",
    "BM25Weights",
    "Hit",
    "KeywordRead",
    "OwnerIndexStats",
    "SearchFilter",
    "SearchIndex",
    "build_search_index",
    "categories_of",
    "category_mask",
]
