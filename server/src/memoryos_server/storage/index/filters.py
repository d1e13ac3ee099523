"""What one search may see: an owner's memories, narrowed inside the query itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """The rows a search may return. Every index applies all of it inside its own query.

    Without ``as_of``: the owner's active memories. With ``as_of``: the memories that were
    known at that moment and not yet archived then (created at or before it, and active now or
    archived after it); deleted memories are never returned.

    Memories the owner flagged are withheld from every search unless ``include_flagged`` (the
    de-duplication of an add, which must still recognise them): a flag keeps a memory from
    agents until it is removed, and filtering here, not after, keeps ``k`` results possible.
    """

    owner_id: int
    # Stable and never reused (unlike an integer id): keys per-owner caches.
    owner_key: str
    categories: tuple[str, ...] | None = None  # None or empty: every category
    created_since: datetime | None = None  # time_filter_days
    as_of: datetime | None = None
    # Only for a tenant family: "tenant" (an end-user's) or "workspace"; implied by the owner.
    scope: str | None = None
    include_flagged: bool = False

    @classmethod
    def for_owner(
        cls,
        owner_id: int,
        owner_key: str,
        *,
        categories: Sequence[str] | None = None,
        created_since: datetime | None = None,
        as_of: datetime | None = None,
        scope: str | None = None,
        include_flagged: bool = False,
    ) -> SearchFilter:
        return cls(
            owner_id=owner_id,
            owner_key=owner_key,
            categories=tuple(sorted(set(categories))) if categories else None,
            created_since=created_since,
            as_of=as_of,
            scope=scope,
            include_flagged=include_flagged,
        )


@dataclass(frozen=True, slots=True)
class BM25Weights:
    """Okapi BM25 constants (the same formula as ``engine.retrieval.bm25``)."""

    k1: float = 1.2
    b: float = 0.75


DEFAULT_BM25 = BM25Weights()
