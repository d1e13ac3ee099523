"""When a tenant last acted for each of its end-users (``users.last_seen_at``), to the minute.

Every tenant memory call names an end-user, and most of them are reads: writing the time on
each would turn every read into a write, and on SQLite queue all readers behind the one writer.
So the time is kept only to the minute. A call whose end-user was last seen less than a minute
ago (the stored value, loaded with the row anyway) does nothing; an older one is noted here, in
memory, and a background thread writes the notes every few seconds in one transaction.
Until then the end-user routes show the noted time, so a reader of this process sees it at
once; other worker processes see it after their next read of the row, once it is written.
A note lost in a crash or skipped under a lock is taken again by the next call, as the stored
value is still old.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from memoryos_server.storage.db import Database
from memoryos_server.storage.models import User
from memoryos_server.storage.repositories.identity import UserRepository
from memoryos_server.storage.types import utcnow

log = logging.getLogger("memoryos.seen")

RESOLUTION = timedelta(seconds=60)
FLUSH_SECONDS = 2.0


class SeenLog:
    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        # One flush at a time: a flush returns only once every note taken before it is written,
        # including those another thread (the flusher) took first.
        self._flushing = threading.Lock()
        self._pending: dict[int, datetime] = {}

    def note(self, user: User) -> None:
        """The tenant acted for ``user`` (an end-user row) just now."""
        if user.kind != "end_user":
            return
        now = self.clock()
        if user.last_seen_at is not None and now - user.last_seen_at < RESOLUTION:
            return
        with self._lock:
            self._pending[user.id] = now

    def last_seen(self, user: User) -> datetime | None:
        """The stored time, or a newer one noted here and not yet written."""
        with self._lock:
            noted = self._pending.get(user.id)
        stored = user.last_seen_at
        if noted is None or (stored is not None and stored >= noted):
            return stored
        return noted

    @property
    def pending(self) -> int:
        return len(self._pending)

    def flush(self, db: Database) -> int:
        """Write what was noted; how many rows could be taken."""
        with self._flushing:
            with self._lock:
                batch, self._pending = self._pending, {}
            if not batch:
                return 0
            with db.session() as session:
                return UserRepository(session).record_seen(batch)


def start_flusher(services: Any) -> Callable[[], None]:
    """``app.LIFECYCLE_HOOKS`` entry: a thread that writes the notes every few seconds, and
    once more when the app stops."""
    seen: SeenLog = services.seen
    db = services.runtime.db
    stop = threading.Event()

    def flush() -> None:
        try:
            seen.flush(db)
        except Exception:  # noqa: BLE001 — a database hiccup loses a few notes, which the next calls retake
            log.exception("writing last-seen times failed")

    def loop() -> None:
        while not stop.wait(FLUSH_SECONDS):
            if seen.pending:
                flush()

    thread = threading.Thread(target=loop, name="memoryos-last-seen", daemon=True)
    thread.start()

    def finish() -> None:
        stop.set()
        thread.join(timeout=10)
        flush()

    return finish


__all__ = ["RESOLUTION", "SeenLog", "start_flusher"]
