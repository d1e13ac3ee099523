"""Counting adds and retrievals per organisation and day, for the dashboard's Usage.

A retrieval is a read: writing a counter on each would turn every read into a write (and on
SQLite queue readers behind the one writer). So calls are counted here, in memory, and the
background worker adds the counts to ``usage_days`` every few seconds in one transaction, as it
does with memories' read counts (``AccessLog``). A count lost in a crash is a few seconds' worth.
"""

from __future__ import annotations

import threading
from datetime import datetime

from memoryos_server.storage.db import Database
from memoryos_server.storage.repositories.usage import UsageRepository

ADDS = "adds"
RETRIEVALS = "retrievals"


class UsageDays:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[tuple[int, str, str], int] = {}

    def note(self, tenant_id: int | None, metric: str, when: datetime) -> None:
        if tenant_id is None:
            return
        key = (tenant_id, when.strftime("%Y-%m-%d"), metric)
        with self._lock:
            self._pending[key] = self._pending.get(key, 0) + 1

    @property
    def pending(self) -> int:
        return len(self._pending)

    def flush(self, db: Database) -> int:
        with self._lock:
            batch, self._pending = self._pending, {}
        if not batch:
            return 0
        with db.session() as session:
            UsageRepository(session).add_to_days(batch)
        return len(batch)
