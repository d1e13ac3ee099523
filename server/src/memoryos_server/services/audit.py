"""The audit trail of Memory Passport: who read or wrote which memories, and grant changes.

Each universal read and write, and each grant change, is one row. A passport user sees their
own rows as "Activity", with agent names but nothing about other users.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from memoryos_server.services.ids import row_number_cursor
from memoryos_server.storage.models import AuditEvent, UniversalUser
from memoryos_server.storage.repositories.agents import AgentRepository
from memoryos_server.storage.repositories.audit import AuditRepository
from memoryos_server.storage.types import utcnow


@dataclass(frozen=True)
class ActivityItem:
    id: int
    action: str
    actor_type: str
    agent_id: str | None
    agent_name: str | None
    categories: list[str]
    memory_ids: list[str]
    detail: dict[str, Any]
    created_at: datetime


class AuditService:
    def record(
        self,
        session: Session,
        *,
        action: str,
        actor_type: str,
        actor_id: str | None,
        universal_user_id: int | None = None,
        agent_id: str | None = None,
        tenant_id: int | None = None,
        memory_ids: Sequence[str] = (),
        categories: Sequence[str] = (),
        detail: dict[str, Any] | None = None,
    ) -> AuditEvent:
        event = AuditEvent(
            universal_user_id=universal_user_id,
            tenant_id=tenant_id,
            agent_id=agent_id,
            actor_type=actor_type,
            actor_id=actor_id,
            action=action,
            memory_ids=list(memory_ids),
            categories=sorted(set(categories)),
            detail=detail or {},
            created_at=utcnow(),
        )
        session.add(event)
        return event

    def activity(
        self, session: Session, user: UniversalUser, *, cursor: str | None, limit: int
    ) -> tuple[list[ActivityItem], int | None, int]:
        """The user's own events, newest first: (items, next cursor, total). ``cursor`` is a
        next cursor this returned (a row id), as the caller received it."""
        repo = AuditRepository(session)
        rows = list(repo.for_user(user.id, before_id=row_number_cursor(cursor), limit=limit + 1))
        next_cursor = rows[limit - 1].id if len(rows) > limit else None
        rows = rows[:limit]
        agents = AgentRepository(session).any_by_ids([row.agent_id for row in rows if row.agent_id])
        items = [
            ActivityItem(
                id=row.id,
                action=row.action,
                actor_type=row.actor_type,
                agent_id=row.agent_id,
                agent_name=agents[row.agent_id].name if row.agent_id in agents else None,
                categories=list(row.categories or []),
                memory_ids=list(row.memory_ids or []),
                detail=dict(row.detail or {}),
                created_at=row.created_at,
            )
            for row in rows
        ]
        return items, next_cursor, repo.count_for_user(user.id)
