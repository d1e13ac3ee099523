"""Global agents: a tenant sees its own; the public and the operator see profiles."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from memoryos_server.storage.models import GlobalAgent, Tenant
from memoryos_server.storage.repositories.base import Repository


class AgentRepository(Repository):
    def live(self, agent_id: str) -> GlobalAgent | None:
        """An agent that has not been deleted, whoever owns it (public profile, grants)."""
        return self.one_or_none(select(GlobalAgent).where(GlobalAgent.id == agent_id, GlobalAgent.deleted_at.is_(None)))

    def logo(self, agent_id: str) -> tuple[bytes, str] | None:
        row = self.session.execute(
            select(GlobalAgent.logo_image, GlobalAgent.logo_content_type).where(
                GlobalAgent.id == agent_id, GlobalAgent.deleted_at.is_(None)
            )
        ).first()
        if row is None or row[0] is None or row[1] is None:
            return None
        return bytes(row[0]), str(row[1])

    def any_by_ids(self, agent_ids: Sequence[str]) -> dict[str, GlobalAgent]:
        """Agents by id, deleted ones included: a user's activity still names who read what."""
        if not agent_ids:
            return {}
        rows = self.all(select(GlobalAgent).where(GlobalAgent.id.in_(list(set(agent_ids)))))
        return {row.id: row for row in rows}

    def owned(self, tenant_id: int, agent_id: str) -> GlobalAgent | None:
        return self.one_or_none(
            select(GlobalAgent).where(
                GlobalAgent.id == agent_id,
                GlobalAgent.owner_tenant_id == tenant_id,
                GlobalAgent.deleted_at.is_(None),
            )
        )

    def for_tenant(self, tenant_id: int) -> Sequence[GlobalAgent]:
        return self.all(
            select(GlobalAgent)
            .where(GlobalAgent.owner_tenant_id == tenant_id, GlobalAgent.deleted_at.is_(None))
            .order_by(GlobalAgent.created_at, GlobalAgent.id)
        )

    def by_key_hash(self, key_hash: str) -> GlobalAgent | None:
        return self.one_or_none(
            select(GlobalAgent).where(
                GlobalAgent.key_hash == key_hash, GlobalAgent.kind == "tenant", GlobalAgent.deleted_at.is_(None)
            )
        )

    def by_status(self, status: str | None, *, limit: int) -> Sequence[tuple[GlobalAgent, Tenant]]:
        statement = (
            select(GlobalAgent, Tenant)
            .join(Tenant, Tenant.id == GlobalAgent.owner_tenant_id)
            .where(GlobalAgent.deleted_at.is_(None))
            .order_by(GlobalAgent.created_at, GlobalAgent.id)
            .limit(limit)
        )
        if status is not None:
            statement = statement.where(GlobalAgent.verification_status == status)
        return [(agent, tenant) for agent, tenant in self.session.execute(statement).all()]
