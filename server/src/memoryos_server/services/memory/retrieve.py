"""Hybrid retrieval: dense and keyword top-k, blended into one relevance, then importance and
recency; nothing at all when the floor finds nothing stored is about the query.

Both retrievers apply the whole filter (owner, scope, status or ``as_of``, the owner's flags,
categories, time window) inside their own query. A memory the keyword search found but the dense one did not
return gets its exact cosine from the index, so both parts of its relevance are known.

**A query that names a period** ("in March 2024", "on 3 May", "last week") also takes the best
``WINDOW_POOL`` keyword candidates among the memories whose moment (``valid_at``, else
``created_at``) falls in that period or its slack — from the same scoring pass as the keyword
search (``SearchIndex.keyword``), in worker memory on both databases, so it costs no
extra statement; their cosine comes with the dense read like any keyword hit's. Without it a
memory from that day that shares fewer words with the question than many others never became a
candidate, and the period bonus could not lift it. A query naming no period searches as before. The
blend, the periods a query names and the light signals are ``engine.retrieval``'s. With
``as_of``, each memory is shown with its text at that moment (its latest version then).

**The floor** (``engine.retrieval.answerable.SearchFloor``) applies to the search as a whole:
a plain floor on the best match's relevance (``min_relevance``), or the answerability model
over the two reads' best cosine, best keyword share and whether a name the query asks about is
held by any memory the search may read (the default with the local MiniLM model). When it does
not admit the search, the search returns nothing, so an agent's prompt gets no block for a
question nothing stored is about. Once admitted, the top ``limit`` are returned as ranked —
weaker ones included, since the answer to a question is often not its closest match (measured
in docs/benchmarks.md: a floor on each memory cost far more recall for the same effect). The
floor reads only what the two reads returned: no further round trip.

``signals`` turns either retriever off (``("dense",)`` or ``("keyword",)``) so the benchmarks
can compare each signal with the blended result in one run; every caller in the service uses
the default, both.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from memoryos_server.engine.retrieval.answerable import NO_FLOOR, QueryEvidence, SearchFloor
from memoryos_server.engine.retrieval.text import (
    ContextMemory,
    Evidence,
    RankingConfig,
    RankSignals,
    estimate_tokens,
    name_terms,
    query_periods,
    rank,
    relevance,
    render_context,
)
from memoryos_server.services.memory.codec import MemoryCodec
from memoryos_server.services.memory.owner import MemoryOwner
from memoryos_server.services.memory.query_vectors import QueryVectors
from memoryos_server.services.memory.types import RetrievedMemory
from memoryos_server.storage.index import SearchFilter, SearchIndex
from memoryos_server.storage.repositories.memories import MemoryRepository

SNIPPET_CHARS = 240
# Each retriever returns this many times the wanted count (at least MIN_POOL) before blending.
POOL_FACTOR = 4
MIN_POOL = 40
# When a query names a period: this many more keyword candidates from it.
WINDOW_POOL = 40
RANKING = RankingConfig()
SIGNALS = ("dense", "keyword")


@dataclass(frozen=True)
class Ranked:
    memories: list[RetrievedMemory]
    context: list[ContextMemory]
    best_relevance: float = 0.0  # of every candidate, returned or not: what the floor compared
    evidence: QueryEvidence = QueryEvidence()  # the whole query's, what the answerability gate reads


class Retriever:
    def __init__(self, index: SearchIndex, query_vectors: QueryVectors) -> None:
        self.index = index
        self.query_vectors = query_vectors

    def search(
        self,
        session: Session,
        owner: MemoryOwner,
        codec: MemoryCodec,
        *,
        query: str,
        limit: int,
        categories: Sequence[str] | None,
        time_filter_days: int | None,
        as_of: datetime | None,
        now: datetime,
        signals: Collection[str] = SIGNALS,
        floor: SearchFloor = NO_FLOOR,
        vector: Callable[[], np.ndarray] | None = None,
    ) -> Ranked:
        """The best ``limit`` memories, or none when ``floor`` does not admit the search
        (the default floor admits every search that finds something). ``vector``: gives the
        query's embedding, already started (``QueryVectors.start``); else it is computed here, for no
        asker (``QueryVectors.now``: the same shape check either way)."""
        unknown = set(signals) - set(SIGNALS)
        if unknown or not signals:
            raise ValueError(f"signals must be a non-empty subset of {SIGNALS}, got {tuple(signals)}")
        where = owner.search_filter(
            categories=list(categories) if categories else None,
            # With as_of, "the last N days" are the N days before that moment.
            created_since=(as_of or now) - timedelta(days=time_filter_days) if time_filter_days else None,
            as_of=as_of,
        )
        pool = max(MIN_POOL, POOL_FACTOR * limit)
        periods = query_periods(query, now=as_of or now)
        cosine: dict[str, float] = {}
        keyword: dict[str, float] = {}
        names = codec.term_keys(name_terms(query))
        present: frozenset[int] = frozenset()
        if "dense" in signals:
            self.index.prepare(session, owner.family, where, pool)
        if "keyword" in signals:
            read = self.index.keyword(
                session, owner.family, where, codec.query_terms(query), pool, [p.span for p in periods], WINDOW_POOL,
                probe=names,
            )
            keyword = dict(read.hits)
            for memory_id, score in read.window:
                keyword.setdefault(memory_id, score)
            present = read.present
        if "dense" in signals:
            query_vector = vector() if vector is not None else self.query_vectors.now(None, query)
            hits, also = self.index.dense_and_similarities(session, owner.family, where, query_vector, pool, list(keyword))
            cosine = dict(hits)
            for memory_id, similarity in also.items():
                cosine.setdefault(memory_id, similarity)
        candidates = list(dict.fromkeys([*cosine, *keyword]))
        if not candidates:
            return Ranked([], [])
        repo = MemoryRepository(session, owner.family)
        rows = repo.search_rows(owner.id, candidates)
        rows = {memory_id: rows[memory_id] for memory_id in candidates if memory_id in rows and _admitted(rows[memory_id], where)}
        relevances = {
            memory_id: relevance(
                Evidence(
                    cosine=cosine.get(memory_id, 0.0),
                    keyword=keyword.get(memory_id, 0.0),
                    in_period=max((p.nearness(row.valid_at or row.created_at) for p in periods), default=0.0),
                ),
                dense="dense" in signals,
                keyword="keyword" in signals,
                config=RANKING,
            )
            for memory_id, row in rows.items()
        }
        best = max(relevances.values(), default=0.0)
        evidence = QueryEvidence.of(
            (cosine[m] for m in rows if m in cosine),
            (keyword[m] for m in rows if m in keyword),
            # Only the keyword read knows; with it off, nothing is known missing.
            name_missing="keyword" in signals and any(t not in present for t in names),
            best_relevance=best,
        )
        if not relevances or not floor.admits(evidence):
            return Ranked([], [], best, evidence)
        light = {
            memory_id: RankSignals(importance=round(row.importance), updated_at=row.valid_at or row.updated_at)
            for memory_id, row in rows.items()
        }
        ranked = rank(relevances, light, now=now, config=RANKING)
        top = ranked[:limit]
        then = repo.versions_at([mid for mid, _ in top], as_of) if as_of is not None else {}
        memories: list[RetrievedMemory] = []
        context: list[ContextMemory] = []
        for memory_id, score in top:
            row = rows[memory_id]
            version = then.get(memory_id)
            content = codec.open(memory_id, version.content_ct if version is not None else row.content_ct)
            category = version.category if version is not None else row.category
            shown = round(relevances[memory_id], 4)
            # A service writer's claim says where it came from (tenant memories only).
            source_event_id = getattr(row, "source_event_id", None)
            memories.append(
                RetrievedMemory(
                    id=memory_id,
                    content=content,
                    category=category,
                    importance=float(row.importance),
                    original_importance=float(row.original_importance),
                    relevance=shown,
                    snippet=_snippet(content),
                    disputed=bool(row.disputed),
                    unconfirmed=bool(row.unconfirmed),
                    access_count=int(row.access_count or 0) + 1,
                    last_accessed=now,
                    created_at=row.created_at,
                    updated_at=row.updated_at,
                    agent_id=row.agent_id,
                    source_event_id=source_event_id,
                    provenance=codec.open_json(memory_id, row.source_ct) if source_event_id else None,
                )
            )
            context.append(
                ContextMemory(
                    memory_id,
                    content,
                    category,
                    score,
                    disputed=bool(row.disputed),
                    unconfirmed=bool(row.unconfirmed),
                )
            )
        return Ranked(memories, context, best, evidence)


def render(context: list[ContextMemory], *, format: str, max_tokens: int, consent_note: bool) -> tuple[str, int]:
    text = render_context(context, format=format, max_tokens=max_tokens, consent_note=consent_note)  # type: ignore[arg-type]
    return text, estimate_tokens(text)


def new_retrieval_id() -> str:
    return f"ret_{secrets.token_hex(12)}"


def _admitted(row: Any, where: SearchFilter) -> bool:
    """The filter once more on the fetched rows: an in-memory index may be a moment ahead."""
    if where.categories and row.category not in where.categories:
        return False
    if row.flagged and not where.include_flagged:
        return False
    if where.created_since is not None and row.created_at < where.created_since:
        return False
    as_of = where.as_of
    if as_of is None:
        return bool(row.status == "active")
    if row.status == "deleted" or row.created_at > as_of:
        return False
    return bool(row.status == "active" or (row.archived_at is not None and row.archived_at > as_of))


def _snippet(content: str) -> str:
    if len(content) <= SNIPPET_CHARS:
        return content
    return content[: SNIPPET_CHARS - 1].rstrip() + "…"
