"""Rate-limit counters in the database, shared by every worker (when Redis is not configured)."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from memoryos_server.storage.models import RateLimitCounter
from memoryos_server.storage.repositories.base import Repository


class RateLimitRepository(Repository):
    def increment(self, bucket: str, window_start: int) -> int:
        """Add one to a window's counter atomically and return the new count."""
        statement = self.upsert(RateLimitCounter).values(bucket=bucket, window_start=window_start, count=1)
        statement = statement.on_conflict_do_update(
            index_elements=[RateLimitCounter.bucket, RateLimitCounter.window_start],
            set_={"count": RateLimitCounter.count + 1},
        ).returning(RateLimitCounter.count)
        return int(self.session.execute(statement).scalar_one())

    def decrement(self, bucket: str, window_start: int) -> None:
        """Take one back from a window's counter, never below zero; no row, nothing to do."""
        self.session.execute(
            update(RateLimitCounter)
            .where(
                RateLimitCounter.bucket == bucket,
                RateLimitCounter.window_start == window_start,
                RateLimitCounter.count > 0,
            )
            .values(count=RateLimitCounter.count - 1)
        )

    def count(self, bucket: str, window_start: int) -> int:
        value = self.session.execute(
            select(RateLimitCounter.count).where(
                RateLimitCounter.bucket == bucket, RateLimitCounter.window_start == window_start
            )
        ).scalar_one_or_none()
        return int(value or 0)

    def reset(self, bucket: str) -> None:
        self.session.execute(delete(RateLimitCounter).where(RateLimitCounter.bucket == bucket))

    def prune(self, older_than: int) -> None:
        self.session.execute(delete(RateLimitCounter).where(RateLimitCounter.window_start < older_than))
