"""PostgreSQL search: pgvector for dense, BM25 over keyed term postings in SQL.

Every filter (owner, scope, status or ``as_of``, categories, time window) is part of the
one SQL statement, so a filtered query still returns ``k`` rows:

- An owner with up to ``exact_rows`` memories is scored exactly through the owner's btree
  index: ordering by ``distance + 0`` keeps the planner off the HNSW index, which would
  otherwise walk the whole table's graph looking for this owner's rows.
- A larger owner goes through the HNSW index with pgvector's iterative scan
  (``hnsw.iterative_scan = relaxed_order``, 0.8+), which keeps walking the graph until
  ``k`` rows pass the filters; the slightly relaxed order is re-sorted here.

Several query vectors (the de-duplication of one add) go in one statement: a VALUES list
joined LATERAL to the per-vector top-k.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import Float, Integer, and_, case, cast, column, func, literal, or_, select, text, values
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from memoryos_server.storage.index import state
from memoryos_server.storage.index.base import Hit
from memoryos_server.storage.index.filters import DEFAULT_BM25, BM25Weights, SearchFilter
from memoryos_server.storage.index.scoring import affordable_terms, idf
from memoryos_server.storage.types import Embedding

if TYPE_CHECKING:
    from memoryos_server.storage.repositories.memories import MemoryFamily

EXACT_ROWS = 20_000
EF_SEARCH = 100


class PostgresSearchIndex:
    def __init__(self, *, dim: int, exact_rows: int = EXACT_ROWS, ef_search: int = EF_SEARCH) -> None:
        self.dim = dim
        self.exact_rows = exact_rows
        self.ef_search = ef_search
        self._iterative_scan: bool | None = None
        self._lock = threading.Lock()

    def dense(
        self, session: Session, family: MemoryFamily, where: SearchFilter, queries: np.ndarray, k: int
    ) -> list[list[Hit]]:
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if k <= 0 or len(queries) == 0:
            return [[] for _ in range(len(queries))]
        model = family.memory
        owner_rows = state.read(session, family, where.owner_id).doc_count
        exact = owner_rows <= self.exact_rows
        if not exact:
            self._tune_hnsw(session, k)

        vector_type = Embedding(self.dim)
        query_table = values(column("ord", Integer), column("v", vector_type), name="q").data(
            [(i, query) for i, query in enumerate(queries)]
        )
        q_vector = cast(query_table.c.v, vector_type)
        distance = model.embedding.op("<=>", return_type=Float)(q_vector)
        order = distance + literal(0.0) if exact else distance
        hits = (
            select(model.id.label("id"), distance.label("distance"))
            .where(*conditions(family, where))
            .order_by(order)
            .limit(k)
            .lateral("hit")
        )
        rows = session.execute(
            select(query_table.c.ord, hits.c.id, hits.c.distance).select_from(query_table).join(hits, literal(True))
        ).all()
        grouped: list[list[Hit]] = [[] for _ in range(len(queries))]
        for ord_, memory_id, dist in rows:
            grouped[int(ord_)].append((memory_id, 1.0 - float(dist)))
        for hits_of_query in grouped:
            hits_of_query.sort(key=lambda hit: -hit[1])  # relaxed_order may return near-sorted rows
        return grouped

    def _tune_hnsw(self, session: Session, k: int) -> None:
        session.execute(text(f"SET LOCAL hnsw.ef_search = {max(self.ef_search, 2 * k)}"))
        if self._supports_iterative_scan(session):
            session.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))

    def _supports_iterative_scan(self, session: Session) -> bool:
        if self._iterative_scan is None:
            version = session.execute(text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")).scalar()
            parts = tuple(int(p) for p in str(version or "0").split(".")[:2] if p.isdigit())
            with self._lock:
                self._iterative_scan = parts >= (0, 8)
        return bool(self._iterative_scan)

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
        distinct = list(dict.fromkeys(terms))
        if not distinct or k <= 0:
            return []
        stats = state.read(session, family, where.owner_id)
        if stats.doc_count <= 0:
            return []
        term = family.term
        doc_freqs: dict[int, int] = {
            int(t): int(n)
            for t, n in session.execute(
                select(term.term, func.count())
                .where(term.owner_id == where.owner_id, term.term.in_(distinct))
                .group_by(term.term)
            ).all()
        }
        kept = affordable_terms(doc_freqs, stats.doc_count)
        if not kept:
            return []
        model = family.memory
        idf_case = case({t: idf(doc_freqs[t], stats.doc_count) for t in kept}, value=term.term, else_=0.0)
        avgdl = stats.avg_doc_length or 1.0
        tf = cast(term.tf, Float)
        length = cast(model.term_count, Float)
        contribution = (
            idf_case * tf * (weights.k1 + 1.0) / (tf + weights.k1 * (1.0 - weights.b + weights.b * length / avgdl))
        )
        score = func.sum(contribution).label("score")
        statement = (
            select(term.memory_id, score)
            .join(model, model.id == term.memory_id)
            .where(term.owner_id == where.owner_id, term.term.in_(kept), *conditions(family, where, need_vector=False))
            .group_by(term.memory_id)
            .order_by(score.desc(), term.memory_id)
            .limit(k)
        )
        return [(memory_id, float(value)) for memory_id, value in session.execute(statement).all()]


def conditions(family: MemoryFamily, where: SearchFilter, *, need_vector: bool = True) -> list[ColumnElement[Any]]:
    """The WHERE clause of a search over ``family.memory`` (see ``SearchFilter``)."""
    model = family.memory
    clauses: list[ColumnElement[Any]] = [model.owner_id == where.owner_id]
    if where.scope is not None and hasattr(model, "scope"):
        clauses.append(model.scope == where.scope)
    if where.as_of is None:
        clauses.append(model.status == "active")
    else:
        clauses.append(model.created_at <= where.as_of)
        clauses.append(
            or_(
                model.status == "active",
                and_(model.status == "archived", model.archived_at.is_not(None), model.archived_at > where.as_of),
            )
        )
    if where.created_since is not None:
        clauses.append(model.created_at >= where.created_since)
    if where.categories:
        clauses.append(model.category.in_(list(where.categories)))
    if need_vector:
        clauses.append(model.embedding.is_not(None))
    return clauses
