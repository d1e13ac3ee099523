"""Audit events: written for every universal read, write and grant change; read by their user."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, select

from memoryos_server.storage.models import AuditEvent
from memoryos_server.storage.repositories.base import Repository


class AuditRepository(Repository):
    def for_user(self, user_id: int, *, before_id: int | None, limit: int) -> Sequence[AuditEvent]:
        """A passport user's own events, newest first (keyset pagination on the id)."""
        statement = (
            select(AuditEvent)
            .where(AuditEvent.universal_user_id == user_id)
            .order_by(AuditEvent.id.desc())
            .limit(limit)
        )
        if before_id is not None:
            statement = statement.where(AuditEvent.id < before_id)
        return self.all(statement)

    def count_for_user(self, user_id: int) -> int:
        return self.count(select(AuditEvent.id).where(AuditEvent.universal_user_id == user_id))


class TenantAuditRepository(Repository):
    """An organisation's own events: what its members and credentials did (``tenant_id`` set,
    no passport user). Events about a passport user stay theirs, even when they name an agent
    of this organisation: a tenant must not learn who uses its agents through the passport."""

    def _of_tenant(self, tenant_id: int, action: str | None) -> Select[tuple[AuditEvent]]:
        statement = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id, AuditEvent.universal_user_id.is_(None))
        return statement.where(AuditEvent.action == action) if action else statement

    def page(self, tenant_id: int, *, action: str | None, before_id: int | None, limit: int) -> Sequence[AuditEvent]:
        """Newest first (keyset pagination on the id)."""
        statement = self._of_tenant(tenant_id, action).order_by(AuditEvent.id.desc()).limit(limit)
        if before_id is not None:
            statement = statement.where(AuditEvent.id < before_id)
        return self.all(statement)

    def total(self, tenant_id: int, *, action: str | None) -> int:
        return self.count(self._of_tenant(tenant_id, action).with_only_columns(AuditEvent.id))
