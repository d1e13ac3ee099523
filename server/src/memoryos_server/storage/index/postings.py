"""Writes to the keyword index: postings of keyed term hashes, never the words themselves.

Portable SQL; the search side is per backend (``sqlite.py``, ``postgres.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from memoryos_server.storage.index.state import mark_dirty

if TYPE_CHECKING:
    from memoryos_server.storage.repositories.memories import MemoryFamily


def insert_postings(
    session: Session, family: MemoryFamily, owner_id: int, documents: Iterable[tuple[str, Mapping[int, int]]]
) -> None:
    """Add the postings of new documents: ``(memory_id, {term_hash: tf})`` each, in one statement."""
    rows = [
        {"memory_id": memory_id, "term": term, "tf": tf, "owner_id": owner_id}
        for memory_id, term_freqs in documents
        for term, tf in term_freqs.items()
    ]
    if rows:
        mark_dirty(session)
        session.execute(insert(family.term), rows)


def delete_postings(session: Session, family: MemoryFamily, owner_id: int, memory_ids: Sequence[str]) -> None:
    if memory_ids:
        mark_dirty(session)
        term = family.term
        session.execute(delete(term).where(term.owner_id == owner_id, term.memory_id.in_(list(memory_ids))))


def indexed_ids(session: Session, family: MemoryFamily, owner_id: int, memory_ids: Sequence[str]) -> set[str]:
    """Which of these memories have postings (a memory with no terms has none, and counts as unindexed)."""
    if not memory_ids:
        return set()
    term = family.term
    rows = session.execute(
        select(term.memory_id)
        .where(term.owner_id == owner_id, term.memory_id.in_(list(memory_ids)))
        .group_by(term.memory_id)
        .having(func.count() > 0)
    ).scalars()
    return set(rows)
