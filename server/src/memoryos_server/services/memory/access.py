"""Read counts and last-read times, batched in worker memory and written in the background.

Writing ``last_accessed`` on every retrieval would turn each read into a write (and on
SQLite serialise all readers behind the one writer). Reads are counted here instead and
flushed every few seconds in one statement per family. Losing the counts of a crash costs
only a little ranking signal.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime

from memoryos_server.storage.db import Database
from memoryos_server.storage.repositories.memories import MemoryFamily, MemoryRepository

MAX_PENDING = 50_000  # flush early past this many distinct memories


class AccessLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[MemoryFamily, dict[str, tuple[int, datetime]]]] = {}
        self._size = 0

    def note(self, family: MemoryFamily, memory_ids: Iterable[str], when: datetime) -> None:
        with self._lock:
            _, counts = self._pending.setdefault(family.name, (family, {}))
            for memory_id in memory_ids:
                reads, _ = counts.get(memory_id, (0, when))
                if reads == 0:
                    self._size += 1
                counts[memory_id] = (reads + 1, when)

    @property
    def pending(self) -> int:
        return self._size

    @property
    def full(self) -> bool:
        return self._size >= MAX_PENDING

    def flush(self, db: Database) -> int:
        with self._lock:
            batches, self._pending, self._size = self._pending, {}, 0
        written = 0
        for family, counts in batches.values():
            if not counts:
                continue
            done = False
            try:
                with db.session() as session:
                    skipped = MemoryRepository(session, family).record_access(counts)
                done = True
            finally:
                if not done:
                    self._restore(family, counts)  # keep them for the next flush
            # Rows a writer held (or that are gone) are skipped: a few lost reads cost little.
            written += len(counts) - len(skipped)
        return written

    def _restore(self, family: MemoryFamily, counts: dict[str, tuple[int, datetime]]) -> None:
        with self._lock:
            _, current = self._pending.setdefault(family.name, (family, {}))
            for memory_id, (reads, when) in counts.items():
                before, _ = current.get(memory_id, (0, when))
                if before == 0:
                    self._size += 1
                current[memory_id] = (before + reads, when)
