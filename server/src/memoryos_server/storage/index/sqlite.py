"""SQLite search: per-owner matrices in worker memory, kept correct by the owner's generation.

SQLite has no vector index we can load everywhere (the standard module cannot load
extensions), so each worker keeps, per owner, a float32 matrix of that owner's embeddings
plus the few columns filters need (category, status, flag, created/archived times, the
moment — ``valid_at``, else ``created_at`` —, term count).

- **Safe to lose.** Nothing here is authoritative: an evicted or missing entry is rebuilt
  from the table.
- **Correct across workers.** Every query first reads the owner's ``generation`` and
  ``purges`` (one primary-key lookup, in the query's own snapshot). A newer generation pulls
  only the rows stamped after the one held (``index_seq``); a newer purge count (rows removed
  for good) reloads the owner. A session that has itself written index rows never feeds the
  cache, since its view may yet be rolled back.
- **Fast at 100k rows.** Up to ``EXACT_ROWS`` admitted rows are scored exactly (one product);
  past that a first pass ranks every row by the Hamming distance of sign bits (48 bytes a row
  for 384 dimensions), and the best ``coarse_candidates`` are re-scored exactly.

Keyword search keeps the owner's postings in memory too (``sqlite_postings``), loaded on the
first keyword query and brought up to date by the same generations, and filters them with the
same in-memory columns. Nothing here is SQLite-specific SQL: PostgreSQL's index uses this class
with ``dim=0`` (no vectors, which pgvector serves) for its keyword search.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import LargeBinary, literal, select, type_coerce
from sqlalchemy.orm import Session

from memoryos_server.storage.index import state
from memoryos_server.storage.index.base import CATEGORY_CODES, UNKNOWN_CATEGORY, Hit, KeywordRead
from memoryos_server.storage.index.filters import DEFAULT_BM25, BM25Weights, SearchFilter
from memoryos_server.storage.index.scoring import affordable_terms, ceiling, idf
from memoryos_server.storage.index.sqlite_postings import PostingStore, load_postings

if TYPE_CHECKING:
    from memoryos_server.storage.repositories.memories import MemoryFamily

_ACTIVE, _ARCHIVED, _GONE = 0, 1, 2
EXACT_ROWS = 8_192
COARSE_MIN_CANDIDATES = 1_024
DEFAULT_CACHE_BYTES = 1 << 30

if hasattr(np, "bitwise_count"):
    _popcount = np.bitwise_count
else:  # numpy < 2.0
    _BYTE_BITS = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)

    def _popcount(words: np.ndarray) -> np.ndarray:
        return _BYTE_BITS[words.view(np.uint8)].reshape(*words.shape, 8).sum(axis=-1, dtype=np.uint8)


@dataclass(frozen=True, slots=True)
class _View:
    """An immutable look at an owner matrix: arrays may be replaced later, never these."""

    size: int
    ids: list[str]
    vectors: np.ndarray
    codes: np.ndarray  # (words, capacity) uint64 sign bits around ``center``
    center: np.ndarray
    category: np.ndarray
    doubt: np.ndarray
    status: np.ndarray
    flagged: np.ndarray
    created: np.ndarray
    archived: np.ndarray
    moment: np.ndarray
    term_count: np.ndarray


class OwnerMatrix:
    """One owner's rows. Appends and in-place updates happen under ``_apply_lock``."""

    def __init__(self, dim: int, center: np.ndarray | None = None) -> None:
        self.dim = dim
        self.words = math.ceil(dim / 64)
        self.generation = -1
        self.purges = -1
        self.refresh_lock = threading.Lock()  # one SQL refresh at a time per owner
        self._apply_lock = threading.Lock()
        self.ids: list[str] = []
        self.row_of: dict[str, int] = {}
        self.size = 0
        self.dead = 0
        self.center = center if center is not None else np.zeros(dim, dtype=np.float32)
        # Keyword postings: None until the first keyword search asks for them.
        self.postings: PostingStore | None = None
        self.postings_generation = -1
        self._postings_rows = 0  # the matrix's size when the postings were last brought up to date
        self._allocate(0)

    # --- storage ---------------------------------------------------------------------------

    def _allocate(self, capacity: int) -> None:
        self.vectors = np.zeros((capacity, self.dim), dtype=np.float32)
        self.codes = np.zeros((self.words, capacity), dtype=np.uint64)
        self.category = np.full(capacity, UNKNOWN_CATEGORY, dtype=np.uint8)
        self.doubt = np.zeros(capacity, dtype=np.uint8)
        self.status = np.full(capacity, _GONE, dtype=np.uint8)
        self.flagged = np.zeros(capacity, dtype=bool)
        self.created = np.zeros(capacity, dtype=np.float64)
        self.archived = np.full(capacity, np.inf, dtype=np.float64)
        self.moment = np.zeros(capacity, dtype=np.float64)
        self.term_count = np.zeros(capacity, dtype=np.int32)

    def _grow(self, needed: int) -> None:
        capacity = self.vectors.shape[0]
        if needed <= capacity:
            return
        new_capacity = max(needed, capacity * 2, 64)
        old = (
            self.vectors, self.codes, self.category, self.status, self.flagged, self.created, self.archived,
            self.term_count, self.doubt, self.moment,
        )
        self._allocate(new_capacity)
        n = self.size
        self.vectors[:n] = old[0][:n]
        self.codes[:, :n] = old[1][:, :n]
        self.category[:n] = old[2][:n]
        self.status[:n] = old[3][:n]
        self.flagged[:n] = old[4][:n]
        self.created[:n] = old[5][:n]
        self.archived[:n] = old[6][:n]
        self.term_count[:n] = old[7][:n]
        self.doubt[:n] = old[8][:n]
        self.moment[:n] = old[9][:n]

    @property
    def nbytes(self) -> int:
        postings = self.postings.nbytes if self.postings is not None else 0
        return int(self.vectors.nbytes + self.codes.nbytes) + 64 * len(self.ids) + postings

    def current_postings(self, session: Session, family: MemoryFamily, owner_id: int, generation: int) -> PostingStore:
        """The postings as of ``generation`` (this session's snapshot) or newer: loaded whole the
        first time, then the postings of rows stamped since. Call after the matrix is current."""
        held = self.postings_generation  # read before the store: a store is set before its generation
        store = self.postings
        if store is not None and held >= generation:
            return store
        with self.refresh_lock:
            store = self.postings
            # Rows the postings have not seen yet; many of them (a bulk load, a long quiet spell)
            # read faster as one full load than by memory id.
            unseen = self.size - self._postings_rows
            if store is None or store.mostly_stale or unseen > max(1024, self.size // 4):
                changed, terms, rows, tfs = load_postings(session, family, owner_id, self.row_of, after=None)
                self.postings = PostingStore.empty().replaced(changed, terms, rows, tfs)
                self.postings_generation = generation  # exactly this snapshot; newer rows come as deltas
            elif self.postings_generation < generation:
                changed, terms, rows, tfs = load_postings(
                    session, family, owner_id, self.row_of, after=self.postings_generation
                )
                self.postings = store.replaced(changed, terms, rows, tfs)
                self.postings_generation = generation
            self._postings_rows = self.size
            return self.postings

    def view(self) -> _View:
        with self._apply_lock:
            return _View(
                self.size,
                self.ids,
                self.vectors,
                self.codes,
                self.center,
                self.category,
                self.doubt,
                self.status,
                self.flagged,
                self.created,
                self.archived,
                self.moment,
                self.term_count,
            )

    def sign_codes(self, vectors: np.ndarray) -> np.ndarray:
        bits = np.packbits(vectors - self.center > 0, axis=1)
        pad = self.words * 8 - bits.shape[1]
        if pad:
            bits = np.pad(bits, ((0, 0), (0, pad)))
        return np.ascontiguousarray(bits).view(np.uint64)  # (n, words)

    def apply(self, rows: _Rows, *, generation: int, purges: int) -> None:
        """Insert or overwrite rows (a delta, or the whole owner on a fresh matrix)."""
        with self._apply_lock:
            if generation <= self.generation and purges <= self.purges:
                return  # another refresh got here first with the same or newer data
            # A row we never held that is gone now (deleted, or no embedding) stays out.
            keep = np.fromiter(
                (rows.status[i] != _GONE or memory_id in self.row_of for i, memory_id in enumerate(rows.ids)),
                dtype=bool,
                count=len(rows.ids),
            )
            if not keep.all():
                rows = rows.select(keep)
            positions = np.empty(len(rows.ids), dtype=np.int64)
            new_ids: list[str] = []
            for i, memory_id in enumerate(rows.ids):
                row = self.row_of.get(memory_id)
                if row is None:
                    row = self.size + len(new_ids)
                    new_ids.append(memory_id)
                elif self.status[row] != _GONE and rows.status[i] == _GONE:
                    self.dead += 1
                positions[i] = row
            appended = len(new_ids)
            self._grow(self.size + appended)
            self.vectors[positions] = rows.vectors
            self.codes[:, positions] = self.sign_codes(rows.vectors).T
            self.category[positions] = rows.category
            self.doubt[positions] = rows.doubt
            self.status[positions] = rows.status
            self.flagged[positions] = rows.flagged
            self.created[positions] = rows.created
            self.archived[positions] = rows.archived
            self.moment[positions] = rows.moment
            self.term_count[positions] = rows.term_count
            # ids and row_of last: a reader that finds an id also finds its row filled in.
            ids = self.ids + new_ids if new_ids else self.ids
            for offset, memory_id in enumerate(new_ids):
                self.row_of[memory_id] = self.size + offset
            self.ids = ids
            self.size += appended
            self.generation = max(self.generation, generation)
            self.purges = max(self.purges, purges)

    @property
    def needs_compaction(self) -> bool:
        return self.size > 1024 and self.dead * 2 > self.size


@dataclass(slots=True)
class _Rows:
    ids: list[str]
    vectors: np.ndarray
    category: np.ndarray
    doubt: np.ndarray
    status: np.ndarray
    flagged: np.ndarray
    created: np.ndarray
    archived: np.ndarray
    moment: np.ndarray
    term_count: np.ndarray

    def select(self, keep: np.ndarray) -> _Rows:
        return _Rows(
            ids=[memory_id for memory_id, kept in zip(self.ids, keep, strict=True) if kept],
            vectors=self.vectors[keep],
            category=self.category[keep],
            doubt=self.doubt[keep],
            status=self.status[keep],
            flagged=self.flagged[keep],
            created=self.created[keep],
            archived=self.archived[keep],
            moment=self.moment[keep],
            term_count=self.term_count[keep],
        )


class SQLiteSearchIndex:
    """The ``SearchIndex`` of the embedded database."""

    def __init__(
        self,
        *,
        dim: int,
        max_cache_bytes: int = DEFAULT_CACHE_BYTES,
        exact_rows: int = EXACT_ROWS,
        coarse_candidates: int = COARSE_MIN_CANDIDATES,
    ) -> None:
        self.dim = dim
        self.max_cache_bytes = max_cache_bytes
        self.exact_rows = exact_rows
        self.coarse_candidates = coarse_candidates
        self._entries: OrderedDict[tuple[str, str], OwnerMatrix] = OrderedDict()
        self._lock = threading.Lock()

    def prepare(self, session: Session, family: MemoryFamily, where: SearchFilter, k: int) -> None:
        return None  # each read takes what it needs from worker memory

    # --- the cache -----------------------------------------------------------------------------

    def matrix(
        self, session: Session, family: MemoryFamily, where: SearchFilter
    ) -> tuple[OwnerMatrix, state.OwnerIndexStats]:
        """The owner's matrix as of this session's snapshot (or newer)."""
        stats = state.read(session, family, where.owner_id)
        if state.is_dirty(session):
            # Uncommitted index writes in this session: build a private matrix, share nothing.
            private = OwnerMatrix(self.dim)
            private.apply(
                self._load(session, family, where.owner_id, after=None),
                generation=stats.generation,
                purges=stats.purges,
            )
            return private, stats
        key = (family.name, where.owner_key)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
        if entry is None or stats.purges > entry.purges or entry.needs_compaction:
            entry = self._reload(session, family, where.owner_id, key, stats)
        elif stats.generation > entry.generation:
            with entry.refresh_lock:
                if stats.generation > entry.generation:
                    delta = self._load(session, family, where.owner_id, after=entry.generation)
                    entry.apply(delta, generation=stats.generation, purges=stats.purges)
        return entry, stats

    def forget(self, family: MemoryFamily, owner_key: str) -> None:
        with self._lock:
            self._entries.pop((family.name, owner_key), None)

    def _reload(
        self, session: Session, family: MemoryFamily, owner_id: int, key: tuple[str, str], stats: state.OwnerIndexStats
    ) -> OwnerMatrix:
        rows = self._load(session, family, owner_id, after=None)
        active = rows.vectors[rows.status == _ACTIVE]
        # Sign bits around the mean split clustered embeddings far better than around zero.
        center = active.mean(axis=0).astype(np.float32) if len(active) >= 256 else None
        entry = OwnerMatrix(self.dim, center)
        entry.apply(rows, generation=stats.generation, purges=stats.purges)
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            self._evict()
        return entry

    def _evict(self) -> None:
        total = sum(entry.nbytes for entry in self._entries.values())
        while total > self.max_cache_bytes and len(self._entries) > 1:
            _, evicted = self._entries.popitem(last=False)
            total -= evicted.nbytes

    def _load(self, session: Session, family: MemoryFamily, owner_id: int, *, after: int | None) -> _Rows:
        model = family.memory
        # Without dimensions (PostgreSQL's keyword cache) the vectors are not read at all.
        embedding = type_coerce(model.embedding, LargeBinary) if self.dim else literal(None)
        statement = select(
            model.id,
            embedding,
            model.category,
            model.status,
            model.created_at,
            model.archived_at,
            model.term_count,
            model.flagged,
            model.doubt_mask,
            model.valid_at,
        ).where(model.owner_id == owner_id)
        if after is None:
            statement = statement.where(model.status != "deleted")
        else:
            statement = statement.where(model.index_seq > after)
        result = session.connection().execute(statement).all()
        n = len(result)
        ids = [row[0] for row in result]
        blobs = [row[1] for row in result]
        expected = self.dim * 4
        ok = np.fromiter(
            (not self.dim or (blob is not None and len(blob) == expected) for blob in blobs), dtype=bool, count=n
        )
        vectors = np.zeros((n, self.dim), dtype=np.float32)
        if self.dim and ok.any():
            joined = b"".join(blob for blob, good in zip(blobs, ok, strict=True) if good)
            vectors[ok] = np.frombuffer(joined, dtype=np.float32).reshape(-1, self.dim)
        status = np.fromiter((_status_code(row[3]) for row in result), dtype=np.uint8, count=n)
        status[~ok] = _GONE
        created = np.fromiter((row[4].timestamp() for row in result), dtype=np.float64, count=n)
        archived = np.fromiter((_archived_time(row[3], row[5], row[4]) for row in result), dtype=np.float64, count=n)
        moment = np.fromiter(((row[9] or row[4]).timestamp() for row in result), dtype=np.float64, count=n)
        return _Rows(
            ids=ids,
            vectors=vectors,
            category=np.fromiter(
                (CATEGORY_CODES.get(row[2], UNKNOWN_CATEGORY) for row in result), dtype=np.uint8, count=n
            ),
            doubt=np.fromiter((row[8] or 0 for row in result), dtype=np.uint8, count=n),
            status=status,
            flagged=np.fromiter((bool(row[7]) for row in result), dtype=bool, count=n),
            created=created,
            archived=archived,
            moment=moment,
            term_count=np.fromiter((row[6] or 0 for row in result), dtype=np.int32, count=n),
        )

    # --- search --------------------------------------------------------------------------------------

    def dense(
        self, session: Session, family: MemoryFamily, where: SearchFilter, queries: np.ndarray, k: int
    ) -> list[list[Hit]]:
        queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        entry, _stats = self.matrix(session, family, where)
        view = entry.view()
        if view.size == 0 or k <= 0:
            return [[] for _ in range(len(queries))]
        mask = _admitted(view, where)
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            return [[] for _ in range(len(queries))]
        if rows.size <= self.exact_rows:
            sims = _dot(view.vectors[rows], queries)  # (rows, queries)
            return [_top(rows, sims[:, j], k, view.ids) for j in range(len(queries))]
        return [self._coarse_then_exact(view, entry, mask, query, k) for query in queries]

    def _coarse_then_exact(
        self, view: _View, entry: OwnerMatrix, mask: np.ndarray, query: np.ndarray, k: int
    ) -> list[Hit]:
        size = view.size
        code = entry.sign_codes(query[None, :])[0]
        distance = _popcount(view.codes[0, :size] ^ code[0]).astype(np.uint16)
        for word in range(1, view.codes.shape[0]):
            distance += _popcount(view.codes[word, :size] ^ code[word])
        distance[~mask] = np.iinfo(np.uint16).max
        # Wider for bigger owners: the prefilter's misses grow with the rows it ranks.
        wanted = max(self.coarse_candidates, 32 * k, size // 64)
        # The smallest Hamming radius holding ``wanted`` rows, by histogram: O(n), no sort.
        counts = np.bincount(distance, minlength=entry.words * 64 + 1)[: entry.words * 64 + 1]
        radius = int(np.searchsorted(np.cumsum(counts), wanted))
        candidates = np.flatnonzero(distance <= radius)
        sims = _dot(view.vectors[candidates], query[None, :])[:, 0]
        return _top(candidates, sims, k, view.ids)

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
        distinct = list(dict.fromkeys(terms))
        asked = set(distinct)
        probed = [t for t in dict.fromkeys(probe) if t not in asked]
        nothing = KeywordRead([], [], frozenset())
        if (not distinct and not probe) or (k <= 0 and (window_k <= 0 or not spans) and not probe):
            return nothing
        entry, stats = self.matrix(session, family, where)
        view = entry.view()
        if view.size == 0 or stats.doc_count <= 0:
            return nothing
        store = entry.current_postings(session, family, where.owner_id, stats.generation)
        looked_up = store.lookup(np.asarray(distinct + probed, dtype=np.int64), view.size)
        mask = _admitted(view, where)
        # Which probed terms a row the filter admits holds (any term, however common).
        held = looked_up.terms[mask[looked_up.rows]]
        present = frozenset(int(t) for t in np.unique(held).tolist()) & frozenset(probe)
        scored = np.isin(looked_up.terms, np.asarray(distinct, dtype=np.int64))
        found_terms, found_rows, found_tfs = looked_up.terms[scored], looked_up.rows[scored], looked_up.tfs[scored]
        if found_terms.size == 0:
            return KeywordRead([], [], present)
        present_terms, doc_freq = np.unique(found_terms, return_counts=True)
        kept = affordable_terms(dict(zip(present_terms.tolist(), doc_freq.tolist(), strict=True)), stats.doc_count)
        if not kept:
            return KeywordRead([], [], present)
        doc_count = max(stats.doc_count, 1)
        kept_terms = np.asarray(sorted(kept), dtype=np.int64)
        idf_of_kept = np.asarray(
            [idf(int(doc_freq[np.searchsorted(present_terms, t)]), doc_count) for t in kept_terms], dtype=np.float64
        )
        chosen = np.isin(found_terms, kept_terms)
        rows = found_rows[chosen]
        tf = found_tfs[chosen]
        idfs = idf_of_kept[np.searchsorted(kept_terms, found_terms[chosen])]
        avgdl = stats.avg_doc_length or 1.0
        length = view.term_count[rows].astype(np.float64)
        contribution = (
            idfs * tf * (weights.k1 + 1.0) / (tf + weights.k1 * (1.0 - weights.b + weights.b * length / avgdl))
        )
        admitted = mask[rows]
        if not admitted.any():
            return KeywordRead([], [], present)
        scores = np.bincount(rows[admitted], weights=contribution[admitted], minlength=view.size)
        # As a share of what a row holding every term read could reach (see SearchIndex.keyword).
        scores /= ceiling(float(idf_of_kept.sum()), len(distinct) - len(present_terms), doc_count, weights.k1)
        hit_rows = np.flatnonzero(scores > 0)
        hits = _top(hit_rows, scores[hit_rows], k, view.ids) if k > 0 else []
        window: list[Hit] = []
        if spans and window_k > 0:
            in_window = hit_rows[_within(view.moment[hit_rows], spans)]
            window = _top(in_window, scores[in_window], window_k, view.ids)
        return KeywordRead(hits, window, present)

    def dense_and_similarities(
        self,
        session: Session,
        family: MemoryFamily,
        where: SearchFilter,
        query: np.ndarray,
        k: int,
        also: Sequence[str],
    ) -> tuple[list[Hit], dict[str, float]]:
        hits = self.dense(session, family, where, query[None, :], k)[0]
        found = {memory_id for memory_id, _ in hits}
        return hits, self._similarities(session, family, where, query, [m for m in also if m not in found])

    def _similarities(
        self, session: Session, family: MemoryFamily, where: SearchFilter, query: np.ndarray, memory_ids: Sequence[str]
    ) -> dict[str, float]:
        if not memory_ids:
            return {}
        # The search's dense query has just brought the owner's matrix up to this session's
        # snapshot (or newer): use it without reading the owner's generation again.
        with self._lock:
            entry = self._entries.get((family.name, where.owner_key))
        if entry is None or state.is_dirty(session):
            entry, _stats = self.matrix(session, family, where)
        view = entry.view()
        rows = [row for row in (entry.row_of.get(m) for m in memory_ids) if row is not None and row < view.size]
        if not rows:
            return {}
        picked = np.asarray(rows, dtype=np.int64)
        sims = _dot(view.vectors[picked], np.asarray(query, dtype=np.float32)[None, :])[:, 0]
        return {view.ids[int(row)]: float(sim) for row, sim in zip(picked, sims, strict=True)}


def _dot(rows: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """``rows @ queries.T`` on this thread. A BLAS call would hand these small products to
    its worker threads, whose wake-up alone can cost milliseconds on a busy machine."""
    return np.einsum("ij,kj->ik", rows, queries, optimize=False)


def _status_code(status: str) -> int:
    if status == "active":
        return _ACTIVE
    if status == "archived":
        return _ARCHIVED
    return _GONE


def _archived_time(status: str, archived_at: datetime | None, created_at: datetime) -> float:
    if status == "active":
        return math.inf
    if archived_at is not None:
        return archived_at.timestamp()
    return created_at.timestamp()  # archived at an unknown time: never valid in the past either


def _admitted(view: _View, where: SearchFilter) -> np.ndarray:
    size = view.size
    status = view.status[:size]
    if where.as_of is None:
        mask = status == _ACTIVE
    else:
        moment = where.as_of.timestamp()
        mask = (status != _GONE) & (view.created[:size] <= moment) & (view.archived[:size] > moment)
    if not where.include_flagged:
        mask &= ~view.flagged[:size]
    if where.created_since is not None:
        mask &= view.created[:size] >= where.created_since.timestamp()
    if where.categories:
        codes = [CATEGORY_CODES[c] for c in where.categories if c in CATEGORY_CODES]
        mask &= np.isin(view.category[:size], np.asarray(codes, dtype=np.uint8))
    if outside := where.outside_mask:
        mask &= (view.doubt[:size] & np.uint8(outside)) == 0
    return mask


def _within(moments: np.ndarray, spans: Sequence[tuple[datetime, datetime]]) -> np.ndarray:
    """Which of ``moments`` (timestamps) fall in one of the ``[start, end)`` spans."""
    within = np.zeros(moments.shape, dtype=bool)
    for start, end in spans:
        within |= (moments >= start.timestamp()) & (moments < end.timestamp())
    return within


def _top(rows: np.ndarray, scores: np.ndarray, k: int, ids: list[str]) -> list[Hit]:
    """The ``k`` best, ties broken by memory id: the order rows happen to sit in the matrix
    (arrival in this worker, or the database's order on a reload) must not decide."""
    if rows.size == 0:
        return []
    if rows.size > k:
        kth = np.partition(scores, rows.size - k)[rows.size - k]  # the k-th best score
        part = np.flatnonzero(scores >= kth)  # with every row tied with it
    else:
        part = np.arange(rows.size)
    best = sorted(part.tolist(), key=lambda i: (-float(scores[i]), ids[int(rows[i])]))[:k]
    return [(ids[int(rows[i])], float(scores[i])) for i in best]
