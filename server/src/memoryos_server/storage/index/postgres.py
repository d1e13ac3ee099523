"""PostgreSQL search: pgvector for dense; BM25 over keyed term postings held in worker memory.

Every filter (owner, scope, status or ``as_of``, flags, categories, time window) is part of the
one SQL statement, so a filtered query still returns ``k`` rows:

- An owner with up to ``exact_rows`` memories is scored exactly through the owner's btree
  index: ordering by ``distance + 0`` keeps the planner off the HNSW index, which would
  otherwise walk the whole table's graph looking for this owner's rows. Such an owner's rows
  are not in the graph at all (``graph.py``), nor are a larger owner's until its graph is
  built: it too is scored exactly meanwhile.
- So is a larger owner whose filters (a rare category, a short time window) admit that few
  rows: counted first, up to ``exact_rows + 1``.
- Otherwise the HNSW index with pgvector's iterative scan
  (``hnsw.iterative_scan = relaxed_order``, 0.8+), which keeps walking the graph until
  ``k`` rows pass the filters; the slightly relaxed order is re-sorted here.

Several query vectors (the de-duplication of one add) go in one statement: a VALUES list
joined LATERAL to the per-vector top-k.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from pgvector.sqlalchemy import HALFVEC
from sqlalchemy import Float, Integer, and_, bindparam, case, cast, func, literal, or_, select, text, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from memoryos_server.storage.index import graph, state
from memoryos_server.storage.index.base import Hit, KeywordRead, any_of
from memoryos_server.storage.index.filters import DEFAULT_BM25, BM25Weights, SearchFilter
from memoryos_server.storage.index.sqlite import SQLiteSearchIndex
from memoryos_server.storage.types import Embedding

if TYPE_CHECKING:
    from memoryos_server.storage.repositories.memories import MemoryFamily

# Up to this many rows an owner is scored exactly (about 3 µs a row here): beyond, the HNSW
# index. A small owner in a large table must not go through HNSW: its rows are too rare for
# the graph walk to meet k of them within its scan budget. Owners past it have their rows in
# the graph (graph.py).
EXACT_ROWS = graph.GRAPH_FROM
# The graph's shape is migration 0012's: at 100k memories, recall@10 against exact search is
# about 0.996–0.998 at this width of the walk (bench/hnsw.py).
EF_SEARCH = 100
# How far an iterative scan may walk for a filtered query before it gives up (pgvector's
# default is 20,000): a big owner's rare category still fills its k rows.
MAX_SCAN_TUPLES = 200_000
# A dense statement's last column once the graph walk was set: evaluated with its rows, after
# the plan is made, it puts the planner's sorting back on for the transaction's next statements.
_SORT_BACK_ON = func.set_config("enable_sort", "on", True).label("sort_back_on")
# session.info: (transaction, ef_search) while that transaction's graph walk is set.
_WALK_SET = "memoryos.hnsw_walk_set"


class PostgresSearchIndex:
    def __init__(self, *, dim: int, exact_rows: int = EXACT_ROWS, ef_search: int = EF_SEARCH) -> None:
        self.dim = dim
        self.exact_rows = exact_rows
        self.ef_search = ef_search
        self._iterative_scan: bool | None = None
        self._lock = threading.Lock()
        # Keyword search scores the owner's postings held in worker memory (the SQLite path's
        # cache, without vectors): joining a query's few thousand postings to their memories in
        # SQL cost ~25 ms at 100k memories, the cache ~2 ms. Safe to lose, current by generation.
        self._resident = SQLiteSearchIndex(dim=0)
        self._templates: dict[tuple[Any, ...], Any] = {}
        self._half: dict[str, bool] = {}  # memory table → its graph is over halfvec

    def dense(
        self, session: Session, family: MemoryFamily, where: SearchFilter, queries: np.ndarray, k: int
    ) -> list[list[Hit]]:
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if k <= 0 or len(queries) == 0:
            return [[] for _ in range(len(queries))]
        if len(queries) == 1:
            return [self.dense_and_similarities(session, family, where, queries[0], k, ())[0]]
        exact = self._few_rows(session, family, where)
        vector_type = Embedding(self.dim)
        # Each vector cast once, in its own row: a cast inside the per-row distance would parse
        # the vector again for every row compared.
        query_table = union_all(
            *(
                select(literal(i, Integer).label("ord"), cast(literal(query, vector_type), vector_type).label("v"))
                for i, query in enumerate(queries)
            )
        ).subquery("q")
        hits = self._nearest(family, where, query_table.c.v, exact=exact, half=self._half_graph(session, family)).lateral("hit")

        def statement(reset: bool) -> Any:
            columns = [hits.c.id, hits.c.distance, query_table.c.ord, *([_SORT_BACK_ON] if reset else [])]
            return select(*columns).select_from(query_table).join(hits, literal(True))

        values = {**condition_values(family, where), "k": k}
        grouped: list[list[Hit]] = [[] for _ in range(len(queries))]
        for row in self._run(session, statement, values, k, exact=exact):
            grouped[int(row[2])].append((row[0], 1.0 - float(row[1])))
        for hits_of_query in grouped:
            hits_of_query.sort(key=lambda hit: -hit[1])  # relaxed_order may return near-sorted rows
        return grouped

    def dense_and_similarities(
        self,
        session: Session,
        family: MemoryFamily,
        where: SearchFilter,
        query: np.ndarray,
        k: int,
        also: Sequence[str],
    ) -> tuple[list[Hit], dict[str, float]]:
        """One statement: the k nearest (a plain vector parameter, which the HNSW scan handles
        best) and, in a second branch by primary key, the similarity of each row of ``also``."""
        exact = self._few_rows(session, family, where)
        values = {**condition_values(family, where), "k": k, "vector": np.asarray(query, dtype=np.float32)}
        if also:
            values["also"] = list(dict.fromkeys(also))
        hits: list[Hit] = []
        similarities: dict[str, float] = {}

        half = self._half_graph(session, family)

        def statement(reset: bool) -> Any:
            return self._nearest_and_also(family, where, exact=exact, also=bool(also), reset=reset, half=half)

        for row in self._run(session, statement, values, k, exact=exact):
            if int(row[2]) == 0:
                hits.append((row[0], 1.0 - float(row[1])))
            else:
                similarities[row[0]] = 1.0 - float(row[1])
        hits.sort(key=lambda hit: -hit[1])  # relaxed_order may return near-sorted rows
        return hits, similarities

    def _nearest_and_also(
        self, family: MemoryFamily, where: SearchFilter, *, exact: bool, also: bool, reset: bool, half: bool = True
    ) -> Any:
        """The statement of ``dense_and_similarities`` for filters of this shape, built once and
        reused with new parameters: building and keying it afresh cost about a millisecond of
        Python a search (SQLAlchemy keeps a reused statement's cache key)."""
        key = (family.name, exact, also, reset, half, *filter_shape(where))
        statement = self._templates.get(key)
        if statement is None:
            model = family.memory
            vector_type = Embedding(self.dim)
            q_vector = cast(bindparam("vector", type_=vector_type), vector_type)
            after = [_SORT_BACK_ON] if reset else []
            statement = self._nearest(family, where, q_vector, exact=exact, half=half).add_columns(
                literal(0).label("ord"), *after
            )
            if also:
                distance = model.embedding.op("<=>", return_type=Float)(q_vector)
                scored = select(model.id, distance, literal(1), *after).where(
                    model.owner_id == bindparam("owner_id"),
                    any_of(model.id, "also"),
                    model.embedding.is_not(None),
                )
                statement = union_all(statement, scored)
            with self._lock:
                self._templates[key] = statement
        return statement

    def _nearest(self, family: MemoryFamily, where: SearchFilter, q_vector: Any, *, exact: bool, half: bool) -> Any:
        distance = family.memory.embedding.op("<=>", return_type=Float)(q_vector)
        if exact:
            # "+ 0" orders by an expression no index provides: the exact path cannot wander into HNSW.
            order = distance + literal(0.0)
        elif half:
            # The graph holds the vectors in half precision (migration 0014): ordering by that
            # distance is what it serves; the rows' scores stay the full-precision distance.
            precision = HALFVEC(self.dim)
            order = cast(family.memory.embedding, precision).op("<=>", return_type=Float)(cast(q_vector, precision))
        else:
            order = distance
        # The graph is a partial index (WHERE graphed): a statement names its predicate to use it.
        graphed = [] if exact else [family.memory.graphed]
        return (
            select(family.memory.id.label("id"), distance.label("distance"))
            .where(*conditions(family, where), *graphed)
            .order_by(order)
            .limit(bindparam("k", type_=Integer))
        )

    def _run(self, session: Session, statement: Any, values: dict[str, Any], k: int, *, exact: bool) -> Sequence[Any]:
        """Run ``statement(reset)``; the graph walk is set first where it is needed and not yet
        set (``prepare`` may have set it). ``enable_sort`` is put back on by the statement's own
        rows (``_SORT_BACK_ON``, evaluated once the plan is made), or after it when it has none."""
        walk = self._walk_set(session)
        if not exact and (walk is None or walk < self._ef(k)):
            self._tune_hnsw(session, k)
            walk = self._ef(k)
        if walk is None:
            return session.execute(statement(False), values).all()
        session.info.pop(_WALK_SET, None)
        rows = session.execute(statement(True), values).all()
        if not rows:
            session.execute(select(_SORT_BACK_ON))
        return rows

    def prepare(self, session: Session, family: MemoryFamily, where: SearchFilter, k: int) -> None:
        """Read the owner's index state (which the keyword read would do) and, in the same
        statement, set the graph walk for the dense read of ``k`` rows, if the owner is large
        enough to walk the graph: two round trips fewer per search."""
        if state.is_dirty(session) or state.is_read(session, family, where.owner_id):
            return  # the dense read sets what it needs itself
        walk = self._walk(session, k)
        large = and_(family.stats.doc_count > literal(self.exact_rows), family.stats.graphed)
        extra = [func.set_config(name, value, True) for name, value in walk.items()]
        extra.append(func.set_config("enable_sort", case((large, "off"), else_="on"), True))
        found, values = state.read_with(session, family, where.owner_id, extra)
        if values is not None and found.doc_count > self.exact_rows and found.graphed:
            session.info[_WALK_SET] = (session.get_transaction(), self._ef(k))

    def _walk_set(self, session: Session) -> int | None:
        """The ``ef_search`` this transaction's graph walk is set to, while ``enable_sort`` is off."""
        held = session.info.get(_WALK_SET)
        return held[1] if held is not None and held[0] is session.get_transaction() else None

    def _few_rows(self, session: Session, family: MemoryFamily, where: SearchFilter) -> bool:
        """Whether the rows this search admits are few enough to score exactly.

        An owner of up to ``exact_rows`` memories always is, and so is one whose rows are not
        all in the graph yet (``graph.py``). A larger one is too when its
        filters (categories, a time window, ``as_of``) leave that few: the HNSW walk, filters and
        all, would have to pass over the many rows the filter rejects to find k it admits (a
        rare category among 100k rows took seconds). Counting stops at ``exact_rows + 1``.
        """
        found = state.read(session, family, where.owner_id)
        if found.doc_count <= self.exact_rows or not found.graphed:
            return True
        if not (where.categories or where.created_since is not None or where.as_of is not None):
            return False
        admitted = select(literal(1)).where(*conditions(family, where)).limit(self.exact_rows + 1).subquery()
        counted = session.execute(select(func.count()).select_from(admitted), condition_values(family, where))
        return int(counted.scalar_one()) <= self.exact_rows

    def _tune_hnsw(self, session: Session, k: int) -> None:
        """For this one statement: walk the HNSW graph, filters and all, until k rows qualify.

        ``enable_sort = off`` because the planner, whose statistics may lag a bulk load, can
        otherwise prefer sorting all of the owner's rows; the owner's size is known here.
        """
        values = {**self._walk(session, k), "enable_sort": "off"}
        # set_config(..., true) is SET LOCAL; one round trip for all of them.
        session.execute(select(*(func.set_config(name, value, True) for name, value in values.items())))

    def _walk(self, session: Session, k: int) -> dict[str, str]:
        values = {"hnsw.ef_search": str(self._ef(k))}
        if self._supports_iterative_scan(session):
            values.update({"hnsw.iterative_scan": "relaxed_order", "hnsw.max_scan_tuples": str(MAX_SCAN_TUPLES)})
        return values

    def _ef(self, k: int) -> int:
        return max(self.ef_search, 2 * k)

    def _half_graph(self, session: Session, family: MemoryFamily) -> bool:
        """Whether the family's HNSW graph is over ``halfvec`` (migration 0014; pgvector before
        0.7 has no ``halfvec`` and keeps the single-precision graph): a search must order by
        the distance its graph holds, or the planner sorts every row instead."""
        table = family.memory.__tablename__
        if table not in self._half:
            definition = session.execute(
                text("SELECT indexdef FROM pg_indexes WHERE tablename = :table AND indexdef ILIKE '%USING hnsw%'"),
                {"table": table},
            ).scalar()
            with self._lock:
                self._half[table] = "halfvec" in str(definition or "")
        return self._half[table]

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
        spans: Sequence[tuple[datetime, datetime]] = (),
        window_k: int = 0,
        *,
        probe: Sequence[int] = (),
        weights: BM25Weights = DEFAULT_BM25,
    ) -> KeywordRead:
        return self._resident.keyword(session, family, where, terms, k, spans, window_k, probe=probe, weights=weights)


def conditions(family: MemoryFamily, where: SearchFilter, *, need_vector: bool = True) -> list[ColumnElement[Any]]:
    """The WHERE clause of a search over ``family.memory`` (see ``SearchFilter``), with named
    parameters (``condition_values``): one statement serves every owner and moment."""
    model = family.memory
    clauses: list[ColumnElement[Any]] = [model.owner_id == bindparam("owner_id")]
    if where.scope is not None and hasattr(model, "scope"):
        clauses.append(model.scope == bindparam("scope"))
    if where.as_of is None:
        clauses.append(model.status == "active")
    else:
        as_of = bindparam("as_of", type_=model.created_at.type)
        clauses.append(model.created_at <= as_of)
        clauses.append(
            or_(
                model.status == "active",
                and_(model.status == "archived", model.archived_at.is_not(None), model.archived_at > as_of),
            )
        )
    if not where.include_flagged:
        clauses.append(model.flagged.is_(False))
    if where.created_since is not None:
        clauses.append(model.created_at >= bindparam("created_since", type_=model.created_at.type))
    if where.categories:
        clauses.append(any_of(model.category, "categories"))
    if where.outside_mask:
        clauses.append(model.doubt_mask.op("&", return_type=Integer)(bindparam("outside", type_=Integer)) == 0)
    if need_vector:
        clauses.append(model.embedding.is_not(None))
    return clauses


def condition_values(family: MemoryFamily, where: SearchFilter) -> dict[str, Any]:
    """The parameters of ``conditions(family, where)``."""
    values: dict[str, Any] = {"owner_id": where.owner_id}
    if where.scope is not None and hasattr(family.memory, "scope"):
        values["scope"] = where.scope
    if where.as_of is not None:
        values["as_of"] = where.as_of
    if where.created_since is not None:
        values["created_since"] = where.created_since
    if where.categories:
        values["categories"] = list(where.categories)
    if where.outside_mask:
        values["outside"] = where.outside_mask
    return values


def filter_shape(where: SearchFilter) -> tuple[bool, ...]:
    """Which clauses ``conditions`` writes for ``where``: filters of one shape share a statement."""
    return (
        where.scope is not None,
        where.as_of is not None,
        where.include_flagged,
        where.created_since is not None,
        bool(where.categories),
        bool(where.outside_mask),
    )
