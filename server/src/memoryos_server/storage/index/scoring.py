"""BM25 pieces shared by the backends (the formula of ``engine.retrieval.bm25``)."""

from __future__ import annotations

import math
from collections.abc import Mapping


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
