"""Extraction jobs and idempotency records."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from memoryos_server.storage.models import IdempotencyRecord, Job
from memoryos_server.storage.repositories.base import Repository

CLAIMABLE = ("queued", "failed")


class JobRepository(Repository):
    def get(self, job_id: str, *, family: str, tenant_id: int | None = None, owner_id: int | None = None) -> Job | None:
        statement = select(Job).where(Job.id == job_id, Job.family == family)
        if tenant_id is not None:
            statement = statement.where(Job.tenant_id == tenant_id)
        if owner_id is not None:
            statement = statement.where(Job.owner_id == owner_id)
        return self.one_or_none(statement)

    def claim(self, *, now: datetime, lease: timedelta) -> Job | None:
        """Take the oldest job that is due (or whose worker's lease ran out), atomically.

        PostgreSQL: ``FOR UPDATE SKIP LOCKED`` in the subquery, so workers never wait on each
        other. SQLite ignores it; there the single writer makes the UPDATE atomic anyway.
        """
        candidate = aliased(Job)  # not correlated with the UPDATE's own table
        due = (
            select(candidate.id)
            .where(
                or_(
                    (candidate.status.in_(CLAIMABLE)) & (candidate.available_at <= now),
                    (candidate.status == "running") & (candidate.locked_until < now),
                )
            )
            .order_by(candidate.available_at, candidate.id)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        claimed = self.session.execute(
            update(Job)
            .where(Job.id == due)
            .values(status="running", attempts=Job.attempts + 1, locked_until=now + lease, updated_at=now)
            .returning(Job.id)
            .execution_options(synchronize_session=False)
        ).scalar_one_or_none()
        if claimed is None:
            return None
        job = self.session.get(Job, claimed, populate_existing=True)
        if job is not None and job.started_at is None:
            job.started_at = now
        return job

    def has_work(self, *, now: datetime) -> bool:
        """A cheap read before a claim, so idle workers do not take the write lock."""
        due = select(Job.id).where(
            or_(
                (Job.status.in_(CLAIMABLE)) & (Job.available_at <= now),
                (Job.status == "running") & (Job.locked_until < now),
            )
        )
        return self.one_or_none(due) is not None

    def owner_row(self, model: type[Any], owner_id: int) -> Any:
        return self.session.get(model, owner_id)


class IdempotencyRepository(Repository):
    def find(self, scope: str, key_hash: str, *, now: datetime) -> IdempotencyRecord | None:
        return self.one_or_none(
            select(IdempotencyRecord).where(
                IdempotencyRecord.scope == scope,
                IdempotencyRecord.key_hash == key_hash,
                IdempotencyRecord.expires_at > now,
            )
        )

    def claim(self, record: IdempotencyRecord, *, now: datetime) -> bool:
        """Insert the record unless another live one holds (scope, key); True when inserted.

        The unique index decides between concurrent requests: on PostgreSQL the loser's
        insert waits for the winner's transaction and then fails; it then reads the answer.
        """
        self.session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.scope == record.scope,
                IdempotencyRecord.key_hash == record.key_hash,
                IdempotencyRecord.expires_at <= now,
            )
        )
        try:
            with self.session.begin_nested():
                self.session.add(record)
        except IntegrityError:
            return False
        return True

    def purge_expired(self, *, now: datetime, limit: int = 1000) -> int:
        expired: Sequence[int] = (
            self.session.execute(select(IdempotencyRecord.id).where(IdempotencyRecord.expires_at <= now).limit(limit))
            .scalars()
            .all()
        )
        if expired:
            self.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id.in_(list(expired))))
        return len(expired)
