"""BM25 pieces shared by the backends (the formula of ``engine.retrieval.bm25``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from memoryos_server.storage.repositories.memories import MemoryFamily

# Keyword queries stop adding terms (rarest first) past this many postings: the terms left out
# are the owner's common ones, whose idf is small, and reading them would cost the most.
# Small owners never reach it. Terms in more than half of the documents add ~nothing.
POSTINGS_BUDGET = 4_000
COMMON_TERM_SHARE = 0.5


def idf(doc_freq: int, doc_count: int) -> float:
    doc_count = max(doc_count, 1)
    doc_freq = min(max(doc_freq, 1), doc_count)
    return math.log(1.0 + (doc_count - doc_freq + 0.5) / (doc_freq + 0.5))


def affordable_terms(doc_freqs: Mapping[int, int], doc_count: int, *, budget: int = POSTINGS_BUDGET) -> list[int]:
    """The query terms worth reading postings for: rarest first, within ``budget`` postings.

    A term held by more than half of the owner's documents is kept only when it is the rarest
    one; a term held by more documents than the whole budget is never read (it ranks nothing).
    """
    kept: list[int] = []
    spent = 0
    for term, df in sorted(doc_freqs.items(), key=lambda item: (item[1], item[0])):
        if df > budget:
            break
        if kept and (df > COMMON_TERM_SHARE * doc_count or spent + df > budget):
            break
        kept.append(int(term))
        spent += df
    return kept


def doc_freqs(
    session: Session, family: MemoryFamily, owner_id: int, terms: Sequence[int], *, cap: int = POSTINGS_BUDGET
) -> dict[int, int]:
    """How many of the owner's documents hold each term, counting no further than ``cap + 1``.

    A term past the budget is never read (``affordable_terms``), so its exact count is not
    needed; counting the postings of a very common term would cost more than the search.
    """
    if not terms:
        return {}
    term = family.term
    parts = [
        select(
            literal(t).label("term"),
            select(func.count())
            .select_from(
                select(term.memory_id).where(term.owner_id == owner_id, term.term == t).limit(cap + 1).subquery()
            )
            .scalar_subquery()
            .label("df"),
        )
        for t in terms
    ]
    rows = session.connection().execute(union_all(*parts) if len(parts) > 1 else parts[0]).all()
    return {int(t): int(df) for t, df in rows if df}
