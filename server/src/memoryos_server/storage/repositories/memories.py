"""Memory rows of one family (tenant or universal), always filtered by owner."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from memoryos_server.storage.models import (
    IdempotencyRecord,
    Job,
    TenantConflict,
    TenantMemory,
    TenantMemoryTerm,
    TenantMemoryVersion,
    UniversalMemory,
    UniversalMemoryTerm,
    UniversalMemoryVersion,
    UniversalQuestion,
)
from memoryos_server.storage.repositories.base import Repository


@dataclass(frozen=True)
class MemoryFamily:
    """The tables of one memory family. Tenant and universal memories never share a query."""

    name: str  # "tenant" | "universal"
    memory: type[Any]
    version: type[Any]
    term: type[Any]
    conflict: type[Any]


TENANT = MemoryFamily("tenant", TenantMemory, TenantMemoryVersion, TenantMemoryTerm, TenantConflict)
UNIVERSAL = MemoryFamily("universal", UniversalMemory, UniversalMemoryVersion, UniversalMemoryTerm, UniversalQuestion)


class MemoryRepository(Repository):
    def __init__(self, session: Any, family: MemoryFamily) -> None:
        super().__init__(session)
        self.family = family

    def all_for_owner(self, owner_id: int, *, include_deleted: bool = False) -> Sequence[Any]:
        model = self.family.memory
        statement = select(model).where(model.owner_id == owner_id).order_by(model.created_at, model.id)
        if not include_deleted:
            statement = statement.where(model.status != "deleted")
        return self.all(statement)

    def versions_for(self, memory_ids: Sequence[str]) -> dict[str, list[Any]]:
        if not memory_ids:
            return {}
        version = self.family.version
        rows = self.all(
            select(version).where(version.memory_id.in_(list(memory_ids))).order_by(version.memory_id, version.version)
        )
        grouped: dict[str, list[Any]] = {}
        for row in rows:
            grouped.setdefault(row.memory_id, []).append(row)
        return grouped

    def purge_owner(self, owner_id: int, *, job_family: str) -> None:
        """Delete every row an owner has in this family (memories cascade to versions and terms)."""
        family = self.family
        self.session.execute(delete(family.term).where(family.term.owner_id == owner_id))
        self.session.execute(delete(family.conflict).where(family.conflict.owner_id == owner_id))
        self.session.execute(delete(family.memory).where(family.memory.owner_id == owner_id))
        self.session.execute(delete(Job).where(Job.family == job_family, Job.owner_id == owner_id))
        self.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.scope.like(f"{job_family}:{owner_id}:%")))
