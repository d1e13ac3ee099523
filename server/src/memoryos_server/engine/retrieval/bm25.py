"""Okapi BM25 over term statistics.

The keyword index never holds plaintext words: storage keeps per-user keyed hashes of the
terms. So everything here is generic over the term key — a string from ``keyword_terms`` or an
opaque hash of one gives the same scores, as long as query and documents are keyed alike.

Per query term t present in document d:

    idf(t)      = ln(1 + (N - df + 0.5) / (df + 0.5))          (Lucene's form: never negative)
    score(t, d) = idf(t) · tf · (k1 + 1) / (tf + k1 · (1 - b + b · |d| / avgdl))

and score(d) is the sum over the distinct query terms. Repeating a word in the query does not
weigh it more: agents' queries are short and a repeat is usually an accident of phrasing.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)  # a term, or the keyed hash of one
D = TypeVar("D", bound=Hashable)  # a document (memory) id


@dataclass(frozen=True, slots=True)
class BM25Params:
    k1: float = 1.2  # how quickly repeated terms saturate
    b: float = 0.75  # how strongly long documents are penalised


@dataclass(frozen=True, slots=True)
class DocTerms(Generic[K]):
    """One document as the index stores it: term frequencies and its length in terms."""

    term_freqs: Mapping[K, int]
    length: int


@dataclass(frozen=True, slots=True)
class CorpusStats(Generic[K]):
    """Statistics over all documents one query may search (one owner's memories)."""

    doc_count: int
    avg_doc_length: float
    doc_freqs: Mapping[K, int]


def term_frequencies(terms: Iterable[K]) -> dict[K, int]:
    counts: dict[K, int] = {}
    for term in terms:
        counts[term] = counts.get(term, 0) + 1
    return counts


def bm25_idf(doc_freq: int, doc_count: int) -> float:
    doc_count = max(doc_count, 0)
    doc_freq = min(max(doc_freq, 0), doc_count)
    return math.log(1.0 + (doc_count - doc_freq + 0.5) / (doc_freq + 0.5))


def bm25_term_score(
    tf: int,
    doc_length: int,
    doc_freq: int,
    doc_count: int,
    avg_doc_length: float,
    params: BM25Params = BM25Params(),
) -> float:
    if tf <= 0:
        return 0.0
    avgdl = avg_doc_length if avg_doc_length > 0 else 1.0
    norm = params.k1 * (1.0 - params.b + params.b * max(doc_length, 0) / avgdl)
    return bm25_idf(doc_freq, doc_count) * tf * (params.k1 + 1.0) / (tf + norm)


def bm25_scores(
    query_terms: Iterable[K],
    docs: Mapping[D, DocTerms[K]],
    stats: CorpusStats[K],
    *,
    params: BM25Params = BM25Params(),
) -> list[tuple[D, float]]:
    """Score ``docs`` (the candidates that share at least one term) against the query.

    Returns ``(doc_id, score)`` for documents with a positive score, best first; ties keep the
    order of ``docs`` so results are reproducible.
    """
    distinct_terms = list(dict.fromkeys(query_terms))
    scored: list[tuple[D, float]] = []
    for doc_id, doc in docs.items():
        score = 0.0
        for term in distinct_terms:
            tf = doc.term_freqs.get(term, 0)
            if tf <= 0:
                continue
            # A term the document holds occurs in at least one document, whatever stale
            # statistics say; without the floor its idf would be overstated.
            doc_freq = max(stats.doc_freqs.get(term, 0), 1)
            score += bm25_term_score(tf, doc.length, doc_freq, max(stats.doc_count, doc_freq), stats.avg_doc_length, params)
        if score > 0.0:
            scored.append((doc_id, score))
    scored.sort(key=lambda item: -item[1])
    return scored
