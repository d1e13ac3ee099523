"""Audit events: written for every universal read, write and grant change; read by their user."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

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
