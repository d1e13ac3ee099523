"""Which memories are in PostgreSQL's HNSW graph: those of owners large enough to search it.

An owner of up to ``GRAPH_FROM`` memories is scored exactly (``PostgresSearchIndex``): its rows
in the graph served no search, yet putting each of them there was most of an add's time beside
its embeddings (about 0.6 ms a vector with a graph of 1,000, 1.2 ms with 100,000, in
PostgreSQL's process). So the graph is a partial index (``WHERE graphed``, migration 0016) and a
row goes in when its ``graphed`` is set:

- an owner's state row (``memory_index_stats``) says ``graphed`` once all its rows are in; a
  writer then writes new rows with ``graphed`` set, and they go in as they are written;
- a write that takes an owner past ``GRAPH_FROM`` asks, once it has committed, for the owner's
  rows to go in (``WANTED``); the background worker does it a few hundred rows a transaction
  (``build_owner``), then sets the owner's ``graphed`` in a last transaction that holds the
  owner's lock, so no row written meanwhile is left out;
- until then the owner's searches score exactly: right answers, a few milliseconds more. A
  request lost with its process is asked again by the owner's next write, and the worker looks
  for owners left waiting when it starts (``WANTED.sweep``).

A graph, once an owner has one, stays: an owner that shrinks below ``GRAPH_FROM`` is scored
exactly again and its rows stay in the graph. SQLite keeps its vectors in worker memory and
uses none of this (``graphed`` stays false there).
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from memoryos_server.storage.index import state

if TYPE_CHECKING:
    from memoryos_server.storage.db import Database
    from memoryos_server.storage.repositories.memories import MemoryFamily

log = logging.getLogger(__name__)

# Past this many memories an owner is searched through the graph (PostgresSearchIndex.EXACT_ROWS).
GRAPH_FROM = 5_000
# Rows put into the graph per transaction while an owner's graph is built: each costs about a
# millisecond of the database's time and holds its row's lock until the commit.
CHUNK_ROWS = 256


def needs_graph(found: state.OwnerIndexStats, doc_count: int) -> bool:
    """Whether an owner with this state, holding ``doc_count`` memories now, wants a graph built."""
    return not found.graphed and doc_count > GRAPH_FROM


class GraphRequests:
    """The owners of this process waiting for their rows to go into the graph."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owners: set[tuple[str, int]] = set()
        self.swept = False

    def want(self, family: MemoryFamily, owner_id: int) -> None:
        with self._lock:
            self._owners.add((family.name, owner_id))

    @property
    def pending(self) -> bool:
        return bool(self._owners) or not self.swept

    def sweep(self, db: Database, families: tuple[MemoryFamily, ...]) -> None:
        """Ask for every owner past ``GRAPH_FROM`` whose graph is not built (once per process)."""
        for family in families:
            with db.session(write=False) as session:
                stats = family.stats
                owners = session.execute(
                    select(stats.owner_id).where(stats.graphed.is_(False), stats.doc_count > GRAPH_FROM)
                ).scalars()
                for owner_id in owners:
                    self.want(family, int(owner_id))
        self.swept = True

    def build_pending(self, db: Database, families: tuple[MemoryFamily, ...]) -> int:
        """Build every waiting owner's graph; the rows put in. On PostgreSQL only."""
        if db.is_sqlite:
            self.swept = True
            with self._lock:
                self._owners.clear()
            return 0
        if not self.swept:
            self.sweep(db, families)
        by_name = {family.name: family for family in families}
        built = 0
        while True:
            with self._lock:
                if not self._owners:
                    return built
                name, owner_id = next(iter(self._owners))
            built += build_owner(db, by_name[name], owner_id)
            with self._lock:
                self._owners.discard((name, owner_id))


# The process's requests: written by a committed write, read by the background worker.
WANTED = GraphRequests()


def build_owner(db: Database, family: MemoryFamily, owner_id: int, *, chunk: int = CHUNK_ROWS) -> int:
    """Put the owner's rows into the graph, ``chunk`` a transaction, then mark the owner's state
    ``graphed`` with the last ones under its lock. The rows put in (none if already built)."""
    model = family.memory
    built = 0
    while True:
        with db.session() as session:
            if state.read(session, family, owner_id).graphed:
                return built
            count = _graph_rows(session, model, owner_id, limit=chunk)
        built += count
        if count < chunk:
            break
    with db.session() as session:
        # The owner's writers wait from here to the commit: a row they wrote since the last
        # chunk goes in now, and every row they write after goes in as it is written.
        if state.lock(session, family, owner_id).graphed:
            return built
        built += _graph_rows(session, model, owner_id, limit=None)
        session.execute(
            update(family.stats).where(family.stats.owner_id == owner_id).values(graphed=True).execution_options(synchronize_session=False)
        )
    log.info("memory graph built for an owner", extra={"family": family.name, "rows": built})
    return built


def _graph_rows(session: Any, model: Any, owner_id: int, *, limit: int | None) -> int:
    waiting = select(model.id).where(model.owner_id == owner_id, model.graphed.is_(False))
    if limit is not None:
        waiting = waiting.limit(limit)
    # ``graphed`` is checked again on the row itself: a row another process put in meanwhile is
    # not written twice (PostgreSQL re-reads a row it waited for).
    result = session.execute(
        update(model)
        .where(model.id.in_(waiting.scalar_subquery()), model.graphed.is_(False))
        .values(graphed=True)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def graph_large_owners(session: Any, family: MemoryFamily) -> None:
    """A bulk load's shortcut, while the graph index is dropped (bench/perf.py): every owner past
    ``GRAPH_FROM`` marked built, its rows marked in, as the worker would leave them."""
    stats, model = family.stats, family.memory
    large = select(stats.owner_id).where(stats.doc_count > GRAPH_FROM)
    session.execute(update(stats).where(stats.owner_id.in_(large.scalar_subquery())).values(graphed=True).execution_options(synchronize_session=False))
    session.execute(
        update(model)
        .where(model.owner_id.in_(select(stats.owner_id).where(stats.graphed.is_(True)).scalar_subquery()), model.graphed.is_(False))
        .values(graphed=True)
        .execution_options(synchronize_session=False)
    )
