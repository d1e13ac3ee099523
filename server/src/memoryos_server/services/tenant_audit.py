"""The organisation's own audit trail: what its members and credentials did that cannot be
undone or seen otherwise afterwards. Today: an end-user erased (who, when, how many memories;
never the memories nor the tenant's own id for the end-user, only its ``usr_`` public id).

``GET /v1/tenant/audit`` lists it, newest first. Retrieval feedback and an operator's review of
the organisation's agents are recorded in the same table and listed too. Events about a
passport user are not: they belong to that person (``AuditService.activity``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from memoryos_server.services.audit import AuditService
from memoryos_server.services.ids import row_number_cursor
from memoryos_server.services.permissions import Permission
from memoryos_server.services.principal import Principal
from memoryos_server.storage.repositories.audit import TenantAuditRepository

END_USER_DELETED = "end_user.deleted"


@dataclass(frozen=True)
class TenantAuditItem:
    id: int
    action: str
    actor_type: str
    actor_id: str | None
    detail: dict[str, Any]
    created_at: datetime


class TenantAuditService:
    def __init__(self, audit: AuditService) -> None:
        self.audit = audit

    def end_user_deleted(
        self, session: Session, principal: Principal, *, tenant_id: int, user_public_id: str, memories: int, active_memories: int
    ) -> None:
        """In the transaction that destroys the end-user's key, so the record and the erasure
        stand or fall together."""
        self.audit.record(
            session,
            action=END_USER_DELETED,
            actor_type=principal.kind,
            actor_id=principal.credential_id,
            tenant_id=tenant_id,
            detail={"user_id": user_public_id, "memories": memories, "active_memories": active_memories},
        )

    def events(
        self, session: Session, principal: Principal, *, action: str | None, cursor: str | None, limit: int
    ) -> tuple[list[TenantAuditItem], int | None, int]:
        tenant_id = principal.require(Permission.USAGE_READ)
        repo = TenantAuditRepository(session)
        rows = list(repo.page(tenant_id, action=action, before_id=row_number_cursor(cursor), limit=limit + 1))
        next_cursor = rows[limit - 1].id if len(rows) > limit else None
        items = [
            TenantAuditItem(row.id, row.action, row.actor_type, row.actor_id, dict(row.detail or {}), row.created_at)
            for row in rows[:limit]
        ]
        return items, next_cursor, repo.total(tenant_id, action=action)


__all__ = ["END_USER_DELETED", "TenantAuditItem", "TenantAuditService"]
