"""Service writers and source events, always filtered by tenant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.exc import IntegrityError

from memoryos_server.storage.models import ServiceWriter, SourceEvent, TenantMemory
from memoryos_server.storage.repositories.base import Repository


class ServiceWriterRepository(Repository):
    def for_tenant(self, tenant_id: int) -> Sequence[ServiceWriter]:
        return self.all(
            select(ServiceWriter).where(ServiceWriter.tenant_id == tenant_id).order_by(ServiceWriter.service_key)
        )

    def by_key(self, tenant_id: int, service_key: str, *, for_update: bool = False) -> ServiceWriter | None:
        statement = select(ServiceWriter).where(
            ServiceWriter.tenant_id == tenant_id, ServiceWriter.service_key == service_key
        )
        if for_update:
            statement = statement.with_for_update()
        return self.one_or_none(statement)

    def insert_if_absent(self, writer: ServiceWriter) -> bool:
        """False when the tenant already has a writer with this key (the unique index decides
        between concurrent requests)."""
        try:
            with self.session.begin_nested():
                self.session.add(writer)
        except IntegrityError:
            return False
        return True


class SourceEventRepository(Repository):
    def find(self, tenant_id: int, service_key: str, event_id: str) -> SourceEvent | None:
        return self.one_or_none(
            select(SourceEvent).where(
                SourceEvent.tenant_id == tenant_id,
                SourceEvent.service_key == service_key,
                SourceEvent.event_id == event_id,
            )
        )

    def claim(self, event: SourceEvent) -> bool:
        """Insert the event unless (tenant, service, event id) is taken; True when inserted.
        On PostgreSQL a concurrent second insert waits for the first transaction, then fails."""
        try:
            with self.session.begin_nested():
                self.session.add(event)
        except IntegrityError:
            return False
        return True

    def by_ids(self, tenant_id: int, event_ids: Sequence[str]) -> dict[str, SourceEvent]:
        if not event_ids:
            return {}
        rows = self.all(
            select(SourceEvent).where(SourceEvent.tenant_id == tenant_id, SourceEvent.id.in_(list(set(event_ids))))
        )
        return {row.id: row for row in rows}

    def page(
        self,
        tenant_id: int,
        *,
        owner_id: int | None,
        service_key: str | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> Sequence[SourceEvent]:
        """Newest first (by received time); ``after`` is the last row of the previous page."""
        statement = self._filtered(tenant_id, owner_id=owner_id, service_key=service_key)
        if after is not None:
            received, event_id = after
            statement = statement.where(
                or_(
                    SourceEvent.received_at < received,
                    and_(SourceEvent.received_at == received, SourceEvent.id < event_id),
                )
            )
        return self.all(statement.order_by(SourceEvent.received_at.desc(), SourceEvent.id.desc()).limit(limit))

    def total(self, tenant_id: int, *, owner_id: int | None, service_key: str | None) -> int:
        return self.count(self._filtered(tenant_id, owner_id=owner_id, service_key=service_key))

    def memory_ids(self, tenant_id: int, event_ids: Sequence[str]) -> dict[str, list[str]]:
        """The memories (any status but deleted) whose text is each event's claim."""
        if not event_ids:
            return {}
        rows = self.session.execute(
            select(TenantMemory.source_event_id, TenantMemory.id)
            .where(
                TenantMemory.tenant_id == tenant_id,
                TenantMemory.source_event_id.in_(list(set(event_ids))),
                TenantMemory.status != "deleted",
            )
            .order_by(TenantMemory.created_at, TenantMemory.id)
        )
        found: dict[str, list[str]] = {}
        for event_id, memory_id in rows:
            found.setdefault(event_id, []).append(memory_id)
        return found

    def purge_owner(self, owner_id: int) -> None:
        self.session.execute(delete(SourceEvent).where(SourceEvent.owner_id == owner_id))

    @staticmethod
    def _filtered(tenant_id: int, *, owner_id: int | None, service_key: str | None) -> Any:
        statement = select(SourceEvent).where(SourceEvent.tenant_id == tenant_id)
        if owner_id is not None:
            statement = statement.where(SourceEvent.owner_id == owner_id)
        if service_key is not None:
            statement = statement.where(SourceEvent.service_key == service_key)
        return statement
