"""What the operator console reads across organisations: counts and job outcomes, no content."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from memoryos_server.storage.models import GlobalAgent, Job, Membership, Tenant, TenantMemory, User
from memoryos_server.storage.repositories.base import Repository


class OperatorRepository(Repository):
    def organisations(self, *, limit: int) -> Sequence[Tenant]:
        return self.all(select(Tenant).order_by(Tenant.created_at.desc(), Tenant.id.desc()).limit(limit))

    def counts(self, tenant_ids: Sequence[int]) -> dict[int, dict[str, int]]:
        """Per organisation: members, end-users, live agents and memories not deleted."""
        counts = {tenant_id: {"members": 0, "end_users": 0, "agents": 0, "memories": 0} for tenant_id in tenant_ids}
        if not tenant_ids:
            return counts
        ids = list(tenant_ids)
        queries = {
            "members": select(Membership.tenant_id, func.count()).where(Membership.tenant_id.in_(ids)).group_by(Membership.tenant_id),
            "end_users": select(User.tenant_id, func.count())
            .where(User.tenant_id.in_(ids), User.kind == "end_user")
            .group_by(User.tenant_id),
            "agents": select(GlobalAgent.owner_tenant_id, func.count())
            .where(GlobalAgent.owner_tenant_id.in_(ids), GlobalAgent.deleted_at.is_(None))
            .group_by(GlobalAgent.owner_tenant_id),
            "memories": select(TenantMemory.tenant_id, func.count())
            .where(TenantMemory.tenant_id.in_(ids), TenantMemory.status != "deleted")
            .group_by(TenantMemory.tenant_id),
        }
        for name, statement in queries.items():
            for tenant_id, n in self.session.execute(statement).all():
                if tenant_id in counts:
                    counts[tenant_id][name] = int(n)
        return counts

    def dead_jobs(self, *, limit: int) -> Sequence[tuple[Job, Tenant | None]]:
        rows = self.session.execute(
            select(Job, Tenant)
            .outerjoin(Tenant, Tenant.id == Job.tenant_id)
            .where(Job.status == "dead")
            .order_by(Job.completed_at.desc(), Job.id)
            .limit(limit)
        ).all()
        return [(job, tenant) for job, tenant in rows]

    def job(self, job_id: str, *, for_update: bool = False) -> Job | None:
        statement = select(Job).where(Job.id == job_id)
        if for_update:
            statement = statement.with_for_update()
        return self.one_or_none(statement)
