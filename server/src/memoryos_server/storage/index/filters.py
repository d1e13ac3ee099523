"""What one search may see: an owner's memories, narrowed inside the query itself."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from memoryos_server.engine.types import CATEGORIES

# The six categories in a fixed order: per-row category codes in worker memory use it.
CATEGORY_CODES: dict[str, int] = {name: code for code, name in enumerate(CATEGORIES)}
UNKNOWN_CATEGORY = 255
ALL_CATEGORIES_MASK = (1 << len(CATEGORY_CODES)) - 1


def category_mask(categories: Iterable[str]) -> int:
    """One bit per category (``CATEGORY_CODES`` order): how a memory's doubt is stored."""
    mask = 0
    for category in categories:
        if category in CATEGORY_CODES:
            mask |= 1 << CATEGORY_CODES[category]
    return mask


def mask_outside(categories: Sequence[str] | None) -> int:
    """The categories outside ``categories``, as a mask: those a memory's doubt must not touch
    for a reader (or writer) limited to them (None: no limit, 0)."""
    if categories is None:
        return 0
    return ALL_CATEGORIES_MASK & ~category_mask(categories)


def categories_of(mask: int) -> list[str]:
    """The categories of a mask, in ``CATEGORY_CODES`` order."""
    return [name for name, code in CATEGORY_CODES.items() if mask >> code & 1]


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """The rows a search may return. Every index applies all of it inside its own query.

    Without ``as_of``: the owner's active memories. With ``as_of``: the memories that were
    known at that moment and not yet archived then (created at or before it, and active now or
    archived after it); deleted memories are never returned.

    Memories the owner flagged are withheld from every search unless ``include_flagged`` (the
    de-duplication of an add, which must still recognise them): a flag keeps a memory from
    agents until it is removed, and filtering here, not after, keeps ``k`` results possible.

    ``categories`` admits the memories filed under one of them *and* whose doubt (the other
    categories the extractor found plausible, ``doubt_mask``) lies within them too: a reader
    limited to some categories — an agent's grant — never receives a memory that may belong
    to another. ``doubt_within`` sets that second set apart from the first: de-duplication
    looks for memories filed under one category whose doubt lies within what the writer may
    write (empty: any doubt).
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
    # None: ``categories`` themselves; empty: no condition on doubt.
    doubt_within: tuple[str, ...] | None = None

    @property
    def outside_mask(self) -> int:
        """The categories a row's doubt must not touch (0: no condition)."""
        within = self.categories if self.doubt_within is None else self.doubt_within
        return mask_outside(within or None)

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
        doubt_within: Sequence[str] | None = None,
    ) -> SearchFilter:
        return cls(
            owner_id=owner_id,
            owner_key=owner_key,
            categories=tuple(sorted(set(categories))) if categories else None,
            created_since=created_since,
            as_of=as_of,
            scope=scope,
            include_flagged=include_flagged,
            doubt_within=tuple(sorted(set(doubt_within))) if doubt_within is not None else None,
        )


@dataclass(frozen=True, slots=True)
class BM25Weights:
    """Okapi BM25 constants (the same formula as ``engine.retrieval.bm25``)."""

    k1: float = 1.2
    b: float = 0.75


DEFAULT_BM25 = BM25Weights()
