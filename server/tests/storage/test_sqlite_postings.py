"""The in-memory keyword postings of the SQLite path agree with a plain model of "each row's
current postings" through loads, rewrites, deletions, tail merges and stale counting."""

from __future__ import annotations

import numpy as np
import pytest

from memoryos_server.storage.index import sqlite_postings
from memoryos_server.storage.index.sqlite_postings import PostingStore


def _current(model: dict[int, dict[int, int]], wanted: list[int], size: int) -> set[tuple[int, int, float]]:
    return {
        (term, row, float(tf))
        for row, postings in model.items()
        if row < size
        for term, tf in postings.items()
        if term in wanted
    }


def _found(store: PostingStore, wanted: list[int], size: int) -> set[tuple[int, int, float]]:
    found = store.lookup(np.asarray(wanted, dtype=np.int64), size)
    return set(zip(found.terms.tolist(), found.rows.tolist(), found.tfs.tolist(), strict=True))


@pytest.mark.parametrize("merge_at", [8, 64, 100_000])
def test_lookups_match_the_rows_current_postings(monkeypatch: pytest.MonkeyPatch, merge_at: int) -> None:
    monkeypatch.setattr(sqlite_postings, "MERGE_AT", merge_at)
    rng = np.random.default_rng(7)
    vocabulary = rng.integers(-(2**62), 2**62, size=40)
    model: dict[int, dict[int, int]] = {}
    store = PostingStore.empty()
    size = 0
    for step in range(60):
        # Some new rows, some rewritten ones, some deleted (read again with no postings).
        new_rows = list(range(size, size + int(rng.integers(0, 6))))
        size += len(new_rows)
        old_rows = [int(r) for r in rng.choice(size, size=min(size, 3), replace=False)] if size else []
        changed = sorted(set(new_rows) | set(old_rows))
        terms, rows, tfs = [], [], []
        for row in changed:
            if row in old_rows and rng.random() < 0.3:
                model[row] = {}  # deleted: its postings are gone
                continue
            chosen = {int(t): int(rng.integers(1, 4)) for t in rng.choice(vocabulary, size=int(rng.integers(1, 6)))}
            model[row] = chosen
            for term, tf in chosen.items():
                terms.append(term)
                rows.append(row)
                tfs.append(tf)
        store = store.replaced(np.asarray(changed, dtype=np.int64), np.asarray(terms, dtype=np.int64),
                               np.asarray(rows, dtype=np.int64), np.asarray(tfs, dtype=np.int64))
        wanted = [int(t) for t in rng.choice(vocabulary, size=4)]
        assert _found(store, wanted, size) == _current(model, wanted, size), step
        live = sum(len(p) for p in model.values())
        assert store.size - store.stale == live  # every posting is either current or counted stale
    if merge_at < 100:
        assert len(store.terms) > len(store.tail_terms)  # merged into the sorted arrays
        assert np.all(np.diff(store.terms) >= 0)


def test_rows_past_the_matrix_size_are_not_answered() -> None:
    store = PostingStore.empty().replaced(
        np.zeros(0, dtype=np.int64), np.asarray([5, 5]), np.asarray([0, 3]), np.asarray([1, 2])
    )
    assert _found(store, [5], 4) == {(5, 0, 1.0), (5, 3, 2.0)}
    assert _found(store, [5], 2) == {(5, 0, 1.0)}  # a reader whose view holds two rows
    assert _found(store, [6], 4) == set()
