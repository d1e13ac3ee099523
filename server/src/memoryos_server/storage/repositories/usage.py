"""What one tenant uses: counts over its own rows only."""

from __future__ import annotations

from datetime import datetime

from collections.abc import Mapping, Sequence

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from memoryos_server.storage.models import (
    ApiKey,
    AuditEvent,
    GlobalAgent,
    Grant,
    Membership,
    OAuthClient,
    TenantMemory,
    TenantMemoryVersion,
    UsageDay,
    User,
)
from memoryos_server.storage.repositories.base import Repository


class UsageRepository(Repository):
    def end_users(self, tenant_id: int) -> int:
        return self.count(select(User.id).where(User.tenant_id == tenant_id, User.kind == "end_user"))

    def members(self, tenant_id: int) -> int:
        return self.count(select(Membership.id).where(Membership.tenant_id == tenant_id))

    def memories(self, tenant_id: int) -> list[tuple[str, str, str, int]]:
        """(scope, category, status, count) of the tenant's memories not deleted."""
        rows = self.session.execute(
            select(TenantMemory.scope, TenantMemory.category, TenantMemory.status, func.count())
            .where(TenantMemory.tenant_id == tenant_id, TenantMemory.status != "deleted")
            .group_by(TenantMemory.scope, TenantMemory.category, TenantMemory.status)
        ).all()
        return [(scope, category, status, int(n)) for scope, category, status, n in rows]

    def storage(self, tenant_id: int) -> tuple[int, int, int]:
        """(memory rows, version rows, ciphertext bytes of memories and versions), deleted rows included."""
        memory_bytes = (
            func.length(TenantMemory.content_ct)
            + func.coalesce(func.length(TenantMemory.metadata_ct), 0)
            + func.coalesce(func.length(TenantMemory.source_ct), 0)
        )
        rows, stored = self.session.execute(
            select(func.count(), func.coalesce(func.sum(memory_bytes), 0)).where(TenantMemory.tenant_id == tenant_id)
        ).one()
        versions, version_bytes = self.session.execute(
            select(func.count(), func.coalesce(func.sum(func.length(TenantMemoryVersion.content_ct)), 0))
            .select_from(TenantMemoryVersion)
            .join(TenantMemory, TenantMemory.id == TenantMemoryVersion.memory_id)
            .where(TenantMemory.tenant_id == tenant_id)
        ).one()
        return int(rows), int(versions), int(stored) + int(version_bytes)

    def api_keys(self, tenant_id: int) -> tuple[int, datetime | None]:
        """(active keys, the latest use of any key)."""
        active, last_used = self.session.execute(
            select(
                func.count(ApiKey.id).filter(ApiKey.revoked_at.is_(None)),
                func.max(ApiKey.last_used_at),
            ).where(ApiKey.tenant_id == tenant_id)
        ).one()
        return int(active or 0), last_used

    def oauth_clients(self, tenant_id: int) -> int:
        return self.count(
            select(OAuthClient.id).where(OAuthClient.tenant_id == tenant_id, OAuthClient.revoked_at.is_(None))
        )

    def audited_actions(self, tenant_id: int) -> dict[str, int]:
        rows = self.session.execute(
            select(AuditEvent.action, func.count()).where(AuditEvent.tenant_id == tenant_id).group_by(AuditEvent.action)
        ).all()
        return {action: int(n) for action, n in rows}

    # --- per day (the dashboard's Usage) --------------------------------------------------------

    def add_to_days(self, counts: Mapping[tuple[int, str, str], int]) -> None:
        """Add ``counts`` ((tenant, day, metric) → n) to the stored days, making the rows first seen."""
        for (tenant_id, day, metric), n in counts.items():
            where = (UsageDay.tenant_id == tenant_id, UsageDay.day == day, UsageDay.metric == metric)
            done = self.session.execute(update(UsageDay).where(*where).values(count=UsageDay.count + n)).rowcount
            if done:
                continue
            try:
                with self.session.begin_nested():
                    self.session.add(UsageDay(tenant_id=tenant_id, day=day, metric=metric, count=n))
            except IntegrityError:  # another process made the row first: add to it
                self.session.execute(update(UsageDay).where(*where).values(count=UsageDay.count + n))

    def days(self, tenant_id: int, since: str) -> list[tuple[str, str, int]]:
        """(day, metric, count) from ``since`` (YYYY-MM-DD) on."""
        rows = self.session.execute(
            select(UsageDay.day, UsageDay.metric, UsageDay.count).where(UsageDay.tenant_id == tenant_id, UsageDay.day >= since)
        ).all()
        return [(day, metric, int(n)) for day, metric, n in rows]

    def memories_created(self, tenant_id: int, since: datetime) -> list[datetime]:
        return list(
            self.session.execute(
                select(TenantMemory.created_at).where(
                    TenantMemory.tenant_id == tenant_id, TenantMemory.created_at >= since, TenantMemory.status != "deleted"
                )
            ).scalars()
        )

    def grant_spans(self, tenant_id: int) -> Sequence[tuple[datetime, datetime | None, datetime | None]]:
        """(given, revoked, expires) of every grant to the tenant's agents."""
        rows = self.session.execute(
            select(Grant.created_at, Grant.revoked_at, Grant.expires_at)
            .join(GlobalAgent, GlobalAgent.id == Grant.agent_id)
            .where(GlobalAgent.owner_tenant_id == tenant_id)
        ).all()
        return [(given, revoked, expires) for given, revoked, expires in rows]
