"""Per-owner index state: the change counter caches trust, and the BM25 corpus statistics.

Portable SQL. Every transaction that changes an owner's indexed rows calls ``advance`` once
and stamps the rows it touched with the generation it returns (``index_seq``); the row lock
taken by ``lock`` also serialises one owner's writers on PostgreSQL (SQLite has one writer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from memoryos_server.storage.repositories.memories import MemoryFamily

# Set on a session once it has written index rows: caches must not learn from such a session,
# since what it sees may still be rolled back.
DIRTY_MARK = "memoryos.index_dirty"
_MEMO = "memoryos.index_stats"


@dataclass(frozen=True, slots=True)
class OwnerIndexStats:
    generation: int
    purges: int
    doc_count: int
    total_terms: int
    graphed: bool = False  # the owner's rows are in PostgreSQL's HNSW graph (index/graph.py)

    @property
    def avg_doc_length(self) -> float:
        return self.total_terms / self.doc_count if self.doc_count > 0 else 0.0


EMPTY = OwnerIndexStats(0, 0, 0, 0, False)


def read(session: Session, family: MemoryFamily, owner_id: int) -> OwnerIndexStats:
    """The owner's state, read once per transaction while it writes no index rows: a search
    asks twice (its dense and keyword halves), and the first answer is the snapshot both use."""
    if is_read(session, family, owner_id):
        return _memo(session)[(family.name, owner_id)]
    return read_with(session, family, owner_id, ())[0]


def read_with(
    session: Session, family: MemoryFamily, owner_id: int, extra: Sequence[Any]
) -> tuple[OwnerIndexStats, Any]:
    """``read``, with ``extra`` columns in the same statement (PostgreSQL's settings for the
    search that follows); their values, or None when the owner has no state row yet."""
    stats = family.stats
    row = session.execute(
        select(*_columns(family), *extra).where(stats.owner_id == owner_id)
    ).first()
    found = EMPTY if row is None else _stats_of(row)
    if not is_dirty(session):
        _memo(session)[(family.name, owner_id)] = found
    return found, None if row is None else tuple(row[len(_columns(family)):])


def _columns(family: MemoryFamily) -> tuple[Any, ...]:
    stats = family.stats
    return (stats.generation, stats.purges, stats.doc_count, stats.total_terms, stats.graphed)


def _stats_of(row: Any) -> OwnerIndexStats:
    return OwnerIndexStats(int(row[0]), int(row[1]), int(row[2]), int(row[3]), bool(row[4]))


def is_read(session: Session, family: MemoryFamily, owner_id: int) -> bool:
    """Whether this transaction already holds the owner's state (``read`` would not ask again)."""
    return (family.name, owner_id) in _memo(session) and not is_dirty(session)


def _memo(session: Session) -> dict[tuple[str, int], OwnerIndexStats]:
    """This transaction's reads (a new transaction of the same session starts afresh)."""
    transaction = session.get_transaction()
    held = session.info.get(_MEMO)
    if held is None or held[0] is not transaction:
        held = (transaction, {})
        session.info[_MEMO] = held
    memo: dict[tuple[str, int], OwnerIndexStats] = held[1]
    return memo


def _forget(session: Session, family: MemoryFamily, owner_id: int) -> None:
    held = session.info.get(_MEMO)
    if held is not None:
        held[1].pop((family.name, owner_id), None)


def lock(session: Session, family: MemoryFamily, owner_id: int) -> OwnerIndexStats:
    """Create the owner's state row if needed and lock it until the transaction ends."""
    _forget(session, family, owner_id)
    stats = family.stats
    statement = select(*_columns(family)).where(stats.owner_id == owner_id).with_for_update()
    row = session.execute(statement).first()
    if row is None:
        try:
            with session.begin_nested():
                session.add(stats(owner_id=owner_id, generation=0, purges=0, doc_count=0, total_terms=0, graphed=False))
        except IntegrityError:
            pass  # another writer created it first; the locking read below waits for it
        row = session.execute(statement).first()
        assert row is not None
    return _stats_of(row)


def advance(session: Session, family: MemoryFamily, owner_id: int) -> int:
    """Move the owner's generation on by one and return it (call once per transaction, after
    ``lock``; stamp every row changed in the transaction with it)."""
    _forget(session, family, owner_id)
    stats = family.stats
    generation = session.execute(
        update(stats)
        .where(stats.owner_id == owner_id)
        .values(generation=stats.generation + 1)
        .returning(stats.generation)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    session.info[DIRTY_MARK] = True
    return int(generation)


def adjust(
    session: Session, family: MemoryFamily, owner_id: int, *, doc_delta: int, term_delta: int, purged: bool
) -> None:
    """Apply BM25 statistics deltas; ``purged`` tells caches that rows were removed for good."""
    _forget(session, family, owner_id)
    stats = family.stats
    values: dict[str, object] = {
        "doc_count": stats.doc_count + doc_delta,
        "total_terms": stats.total_terms + term_delta,
    }
    if purged:
        values["purges"] = stats.purges + 1
    session.execute(
        update(stats).where(stats.owner_id == owner_id).values(**values).execution_options(synchronize_session=False)
    )
    session.info[DIRTY_MARK] = True


def mark_dirty(session: Session) -> None:
    session.info[DIRTY_MARK] = True


def is_dirty(session: Session) -> bool:
    return bool(session.info.get(DIRTY_MARK))
