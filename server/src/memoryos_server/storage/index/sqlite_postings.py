"""An owner's keyword postings in worker memory, for the SQLite search path.

Reading postings from SQLite costs more than scoring them: at 100k memories a query reads a
few thousand ``(memory_id, term, tf)`` rows and maps each id to its matrix row, ~10 ms of a
~20 ms search. Here each owner's postings are numpy arrays beside its matrix, loaded on the
first keyword search and kept current the same way the matrix is (``index_seq`` deltas), so
a query is a few binary searches.

- Postings point at matrix rows. Each carries the version its row had when it was read; a row
  whose postings are read again (its text changed, or it was deleted) gets a new version, and
  the older postings stop counting. Stale postings are dropped when they outnumber the rest.
- ``PostingStore`` is immutable: a refresh builds a new one and swaps it in, so a reader never
  sees half an update.
- Sorted main arrays take binary searches; recent postings sit in a small unsorted tail,
  merged into the main arrays (one linear merge) once it grows past ``MERGE_AT``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from memoryos_server.storage.index.base import by_key_of

if TYPE_CHECKING:
    from memoryos_server.storage.repositories.memories import MemoryFamily

MERGE_AT = 16_384
_CHUNK = 500  # memory ids per query when reading the postings of changed rows
_EMPTY_I64 = np.zeros(0, dtype=np.int64)
_EMPTY_I32 = np.zeros(0, dtype=np.int32)
_EMPTY_U32 = np.zeros(0, dtype=np.uint32)


@dataclass(frozen=True, slots=True)
class PostingMatches:
    """The current postings of some terms: parallel arrays."""

    terms: np.ndarray  # int64
    rows: np.ndarray  # int64 matrix rows
    tfs: np.ndarray  # float64


@dataclass(frozen=True, slots=True)
class PostingStore:
    terms: np.ndarray  # int64, sorted
    rows: np.ndarray  # int32
    tfs: np.ndarray  # int32
    versions: np.ndarray  # uint32: the row's version when the posting was read
    tail_terms: np.ndarray  # the unsorted recent postings, same layout
    tail_rows: np.ndarray
    tail_tfs: np.ndarray
    tail_versions: np.ndarray
    row_versions: np.ndarray  # uint32 per matrix row
    stale: int  # postings whose row has moved on

    @classmethod
    def empty(cls) -> PostingStore:
        return cls(_EMPTY_I64, _EMPTY_I32, _EMPTY_I32, _EMPTY_U32, _EMPTY_I64, _EMPTY_I32, _EMPTY_I32, _EMPTY_U32,
                   _EMPTY_U32, 0)

    @property
    def size(self) -> int:
        return len(self.terms) + len(self.tail_terms)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.terms, self.rows, self.tfs, self.versions, self.tail_terms,
                                      self.tail_rows, self.tail_tfs, self.tail_versions, self.row_versions))

    def replaced(
        self, changed_rows: np.ndarray, terms: np.ndarray, rows: np.ndarray, tfs: np.ndarray
    ) -> PostingStore:
        """``changed_rows`` read again: their old postings retire, ``(terms, rows, tfs)`` are
        their postings now (rows never seen before have none to retire)."""
        capacity = int(max(changed_rows.max(initial=-1), rows.max(initial=-1))) + 1
        row_versions = self.row_versions
        if capacity > len(row_versions):
            grown = np.zeros(max(capacity, 2 * len(row_versions), 64), dtype=np.uint32)
            grown[: len(row_versions)] = row_versions
            row_versions = grown
        else:
            row_versions = row_versions.copy()
        had = self._live_counts(changed_rows)
        row_versions[changed_rows] += 1
        versions = row_versions[rows]
        tail = (
            np.concatenate([self.tail_terms, terms.astype(np.int64)]),
            np.concatenate([self.tail_rows, rows.astype(np.int32)]),
            np.concatenate([self.tail_tfs, tfs.astype(np.int32)]),
            np.concatenate([self.tail_versions, versions]),
        )
        store = PostingStore(self.terms, self.rows, self.tfs, self.versions, *tail, row_versions, self.stale + had)
        return store._merged() if len(store.tail_terms) > MERGE_AT else store

    def _live_counts(self, rows: np.ndarray) -> int:
        """How many current postings ``rows`` hold (they become stale)."""
        if rows.size == 0 or self.size == 0:
            return 0
        changed = np.zeros(len(self.row_versions), dtype=bool)
        known = rows[rows < len(self.row_versions)]
        changed[known] = True
        count = 0
        for posting_rows, posting_versions in ((self.rows, self.versions), (self.tail_rows, self.tail_versions)):
            hit = changed[posting_rows]
            count += int(np.count_nonzero(posting_versions[hit] == self.row_versions[posting_rows[hit]]))
        return count

    def _merged(self) -> PostingStore:
        order = np.argsort(self.tail_terms, kind="stable")
        tail_terms = self.tail_terms[order]
        # Where each tail posting goes in the main arrays: after the equal terms already there.
        at = np.searchsorted(self.terms, tail_terms, side="right")
        return PostingStore(
            np.insert(self.terms, at, tail_terms),
            np.insert(self.rows, at, self.tail_rows[order]),
            np.insert(self.tfs, at, self.tail_tfs[order]),
            np.insert(self.versions, at, self.tail_versions[order]),
            _EMPTY_I64, _EMPTY_I32, _EMPTY_I32, _EMPTY_U32,
            self.row_versions,
            self.stale,
        )

    def lookup(self, wanted: np.ndarray, size: int) -> PostingMatches:
        """The current postings of the ``wanted`` terms among the first ``size`` matrix rows."""
        wanted = np.unique(np.asarray(wanted, dtype=np.int64))
        lo = np.searchsorted(self.terms, wanted, side="left")
        hi = np.searchsorted(self.terms, wanted, side="right")
        spans = [np.arange(a, b) for a, b in zip(lo.tolist(), hi.tolist(), strict=True) if b > a]
        main = np.concatenate(spans) if spans else np.zeros(0, dtype=np.int64)
        tail = np.flatnonzero(np.isin(self.tail_terms, wanted)) if len(self.tail_terms) else main[:0]
        terms = np.concatenate([self.terms[main], self.tail_terms[tail]])
        rows = np.concatenate([self.rows[main], self.tail_rows[tail]]).astype(np.int64)
        tfs = np.concatenate([self.tfs[main], self.tail_tfs[tail]])
        versions = np.concatenate([self.versions[main], self.tail_versions[tail]])
        current = rows < min(size, len(self.row_versions))
        current[current] = versions[current] == self.row_versions[rows[current]]
        return PostingMatches(terms[current], rows[current], tfs[current].astype(np.float64))

    @property
    def mostly_stale(self) -> bool:
        return self.stale > 4096 and self.stale * 2 > self.size


def load_postings(
    session: Session, family: MemoryFamily, owner_id: int, row_of: Mapping[str, int], *, after: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The owner's postings as ``(changed_rows, terms, rows, tfs)``: all of them (``after`` is
    None), or those of the memories stamped after that generation, whose rows changed.
    Memories the matrix does not hold are left out."""
    term = family.term
    changed: Sequence[str] = ()
    if after is None:
        statements = [select(term.memory_id, term.term, term.tf).where(term.owner_id == owner_id)]
    else:
        model = family.memory
        changed = [
            memory_id
            for (memory_id,) in session.connection().execute(
                select(model.id).where(model.owner_id == owner_id, model.index_seq > after)
            )
        ]
        if not changed:
            return _EMPTY_I64, _EMPTY_I64, _EMPTY_I64, _EMPTY_I64
        # By memory id, a chunk at a time: given the owner too, SQLite's planner walks all of the
        # owner's postings (a million at 100k memories) instead of the few per memory.
        statements = [
            select(term.memory_id, term.term, term.tf).where(
                by_key_of(term.owner_id, owner_id), term.memory_id.in_(list(changed[i : i + _CHUNK]))
            )
            for i in range(0, len(changed), _CHUNK)
        ]
    result = [row for statement in statements for row in session.connection().execute(statement)]
    rows = np.fromiter((row_of.get(memory_id, -1) for memory_id, _, _ in result), dtype=np.int64, count=len(result))
    known = rows >= 0
    terms = np.fromiter((t for _, t, _ in result), dtype=np.int64, count=len(result))[known]
    tfs = np.fromiter((tf for _, _, tf in result), dtype=np.int64, count=len(result))[known]
    changed_rows = np.fromiter((row_of.get(m, -1) for m in changed), dtype=np.int64, count=len(changed))
    return changed_rows[changed_rows >= 0], terms, rows[known], tfs
