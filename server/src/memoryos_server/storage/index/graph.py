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
  (``build_step``, in turn with other owners and the worker's other work), then sets the
  owner's ``graphed`` in a last transaction that holds the owner's lock, so no row written
  meanwhile is left out (two server processes building one owner share the chunks);
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
from collections import OrderedDict
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
    """The owners of this process waiting for their rows to go into the graph, per database.

    The background worker builds them a step at a time (``step``: one chunk of one owner), in
    turn, between its other work: a build of thousands of rows never holds up queued jobs or a
    stop for more than a chunk."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owners: dict[str, OrderedDict[tuple[str, int], None]] = {}  # database URL → owners, in turn
        self._swept: set[str] = set()

    def want(self, database: str, family: MemoryFamily, owner_id: int) -> None:
        """``database``: ``database_key`` of the database the owner's rows are in."""
        with self._lock:
            self._owners.setdefault(database, OrderedDict())[(family.name, owner_id)] = None

    def pending(self, db: Database) -> bool:
        key = database_key(db.engine)
        return bool(self._owners.get(key)) or key not in self._swept

    def sweep(self, db: Database, families: tuple[MemoryFamily, ...]) -> None:
        """Ask for every owner past ``GRAPH_FROM`` whose graph is not built (once per process)."""
        key = database_key(db.engine)
        if not db.is_sqlite:
            for family in families:
                with db.session(write=False) as session:
                    stats = family.stats
                    owners = session.execute(
                        select(stats.owner_id).where(stats.graphed.is_(False), stats.doc_count > GRAPH_FROM)
                    ).scalars()
                    for owner_id in owners:
                        self.want(key, family, int(owner_id))
        self._swept.add(key)

    def step(self, db: Database, families: tuple[MemoryFamily, ...]) -> bool:
        """One step of the build in turn: the sweep, or one chunk of one owner. Whether there
        was anything to do. On SQLite there never is (no graph)."""
        key = database_key(db.engine)
        if db.is_sqlite:
            with self._lock:
                self._owners.pop(key, None)
            self._swept.add(key)
            return False
        if key not in self._swept:
            self.sweep(db, families)
            return True
        with self._lock:
            waiting = self._owners.get(key)
            if not waiting:
                return False
            name, owner_id = next(iter(waiting))
            waiting.move_to_end((name, owner_id))  # the next step serves the next owner
        family = {f.name: f for f in families}[name]
        try:
            done = build_step(db, family, owner_id)
        except Exception:  # noqa: BLE001 — dropped, not retried forever: its next write asks again
            log.warning("building an owner's memory graph failed; it is searched exactly until its next write", exc_info=True)
            done = True
        if done:
            with self._lock:
                self._owners.get(key, OrderedDict()).pop((name, owner_id), None)
        return True


# The process's requests: written by a committed write, read by the background worker.
WANTED = GraphRequests()


def database_key(engine: Any) -> str:
    """Which database an engine (or a session's bind) writes to, as the requests are kept."""
    return str(engine.url.render_as_string(hide_password=False))


def build_step(db: Database, family: MemoryFamily, owner_id: int, *, chunk: int = CHUNK_ROWS) -> bool:
    """Put up to ``chunk`` more of the owner's rows into the graph in one transaction; when none
    are left, mark the owner's state ``graphed`` under its lock, with any row written since.
    True once the owner is done (built, or gone)."""
    model = family.memory
    with db.session() as session:
        if state.read(session, family, owner_id).graphed:
            return True
        # Rows another builder holds (a second server process) are left to it.
        if _graph_rows(session, model, owner_id, limit=chunk) > 0:
            return False
    with db.session() as session:
        stats = family.stats
        # The owner's writers wait from here to the commit: a row they wrote since the last
        # chunk goes in now, and every row they write after goes in as it is written. No
        # state row: the owner was erased meanwhile, and there is nothing to build.
        locked = session.execute(select(stats.graphed).where(stats.owner_id == owner_id).with_for_update()).first()
        if locked is None or locked[0]:
            return True
        built = _graph_rows(session, model, owner_id, limit=None)
        session.execute(
            update(stats).where(stats.owner_id == owner_id).values(graphed=True).execution_options(synchronize_session=False)
        )
    log.info("memory graph built for an owner", extra={"family": family.name, "last_rows": built})
    return True


def build_owner(db: Database, family: MemoryFamily, owner_id: int, *, chunk: int = CHUNK_ROWS) -> None:
    """The whole build of one owner's graph at once (tests, tools): ``build_step`` until done."""
    while not build_step(db, family, owner_id, chunk=chunk):
        pass


def _graph_rows(session: Any, model: Any, owner_id: int, *, limit: int | None) -> int:
    waiting = select(model.id).where(model.owner_id == owner_id, model.graphed.is_(False))
    if limit is not None:
        waiting = waiting.limit(limit).with_for_update(skip_locked=True)
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
