"""The operator console's view across organisations: their usage, and extraction jobs that died.

An operator sees counts and a job's error, never a memory or a job's messages (those stay
encrypted with their owner's key). Every method checks that the caller is an operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from memoryos_server.errors import JobNotFound, PermissionDenied
from memoryos_server.services.principal import Principal
from memoryos_server.storage.repositories.operator import OperatorRepository
from memoryos_server.storage.types import utcnow

DROPPED = "dropped"


@dataclass(frozen=True)
class OrganisationUsage:
    id: str
    name: str
    created_at: datetime
    members: int
    end_users: int
    agents: int
    memories: int


@dataclass(frozen=True)
class DeadJob:
    id: str
    family: str
    organisation: str | None
    error: str | None
    attempts: int
    ended_at: datetime | None
    retryable: bool  # its messages are still there to extract


class OperatorService:
    @staticmethod
    def _check(operator: Principal) -> None:
        if not operator.is_operator:
            raise PermissionDenied("operator access only")

    def organisations(self, session: Session, operator: Principal, *, limit: int = 200) -> list[OrganisationUsage]:
        self._check(operator)
        repository = OperatorRepository(session)
        tenants = list(repository.organisations(limit=limit))
        counts = repository.counts([t.id for t in tenants])
        return [OrganisationUsage(t.public_id, t.name, t.created_at, **counts[t.id]) for t in tenants]

    def dead_jobs(self, session: Session, operator: Principal, *, limit: int = 100) -> list[DeadJob]:
        self._check(operator)
        return [
            DeadJob(
                id=job.id,
                family=job.family,
                organisation=tenant.name if tenant else None,
                error=job.error,
                attempts=int(job.attempts or 0),
                ended_at=job.completed_at,
                retryable=job.payload_ct is not None,
            )
            for job, tenant in OperatorRepository(session).dead_jobs(limit=limit)
        ]

    def retry_job(self, session: Session, operator: Principal, job_id: str) -> None:
        """Queue a dead job again, from its first attempt (the worker picks it up)."""
        self._check(operator)
        job = OperatorRepository(session).job(job_id, for_update=True)
        if job is None or job.status != "dead" or job.payload_ct is None:
            raise JobNotFound("no dead job with its messages to retry")
        now = utcnow()
        job.status, job.attempts, job.error = "queued", 0, None
        job.available_at, job.locked_until, job.completed_at, job.updated_at = now, None, None, now

    def drop_job(self, session: Session, operator: Principal, job_id: str) -> None:
        """Give a dead job up: its messages are erased and it leaves the list."""
        self._check(operator)
        job = OperatorRepository(session).job(job_id, for_update=True)
        if job is None or job.status != "dead":
            raise JobNotFound("no such dead job")
        job.status, job.payload_ct, job.updated_at = DROPPED, None, utcnow()
