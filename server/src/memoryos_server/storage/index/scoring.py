"""BM25 pieces shared by the backends (the formula of ``engine.retrieval.bm25``)."""

from __future__ import annotations

import math
from collections.abc import Mapping


# Keyword queries stop adding terms (rarest first) past this many postings: the terms left out
# are the owner's common ones, whose idf is small, and reading them would cost the most.
# Small owners never reach it. Terms in more than half of the documents add ~nothing.
POSTINGS_BUDGET = 4_000
COMMON_TERM_SHARE = 0.5
# A query term no memory of the owner holds still belongs to what the query asks: it counts in
# the ceiling (the share's denominator) at this part of the highest idf. Without it a question
# whose one known word is common ("What attributes describe John?", where only "John" is held)
# made every memory naming John an 80% match.
ABSENT_TERM_WEIGHT = 0.5


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


def ceiling(kept_idfs: float, absent_terms: int, doc_count: int, k1: float) -> float:
    """The BM25 score a row holding every term read (many times, in a short text) would reach,
    with the query's terms that no row holds counted at ``ABSENT_TERM_WEIGHT`` of the highest
    idf: what a keyword score is divided by to become the share of the query it matches."""
    return (kept_idfs + ABSENT_TERM_WEIGHT * absent_terms * idf(0, doc_count)) * (k1 + 1.0)
