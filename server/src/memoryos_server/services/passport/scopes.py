"""The Memory Passport's two kinds of memory caller, as scopes: an agent within its grant, and
the passport user on their own memories.

An agent's scope is its grant, read in the request's own transaction, so revocation and expiry
take effect on the next call: the categories it may read and write, whether it may write, and
when it holds no active grant, why it gets nothing. Every read and write an agent makes is an
audit event the person sees in their activity, a refused read too (``returned: 0`` and the
``permission_error``).

An add whose extraction is queued (LLM) is decided again when the worker runs it
(``admit``, the worker's ``QueuedWriteGate``): the scope is rebuilt from the job row, so a
grant revoked, expired or made read-only meanwhile blocks the job, and the categories written
are those the grant allows then, never more than when it was queued. Its audit event is
recorded when the worker has written (``record``), with the ids of the memories it wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from memoryos_server.services.audit import AuditService
from memoryos_server.services.memory.owner import MemoryOwner
from memoryos_server.services.memory.scope import MemoryScope
from memoryos_server.services.memory.types import AddEvent, AddOutcome, AnswerOutcome, MemoryView, Page, RetrieveOutcome
from memoryos_server.services.memory.worker import WriteAdmission
from memoryos_server.services.passport.agent_access import AgentCaller, GrantState, AgentAccessService
from memoryos_server.services.passport.mcp_auth.scopes import ScopeRequest
from memoryos_server.storage.models import GlobalAgent, Job, UniversalUser
from memoryos_server.storage.repositories.agents import AgentRepository


def passport_actor(user: UniversalUser) -> str:
    return f"passport_user:{user.public_id}"


class AgentAudit:
    """What an agent read and wrote, as the person's activity shows it."""

    def __init__(self, audit: AuditService, agent: GlobalAgent | None, user: UniversalUser) -> None:
        self.audit = audit
        self.agent = agent
        self.user = user

    def read(self, session: Session, scope: MemoryScope, outcome: RetrieveOutcome, *, requested: Sequence[str] | None) -> None:
        detail: dict[str, Any] = {
            "retrieval_id": outcome.retrieval_id,
            "categories_searched": outcome.categories_searched,
            "returned": len(outcome.memories),
        }
        if outcome.permission_error is not None:
            detail["categories_requested"] = list(requested or [])
            detail["permission_error"] = outcome.permission_error
        self._record(
            session,
            "memories.read",
            memory_ids=[m.id for m in outcome.memories],
            categories=[m.category for m in outcome.memories],
            detail=detail,
        )

    def wrote(self, session: Session, scope: MemoryScope, outcome: AddOutcome) -> None:
        if outcome.status == "queued":
            return  # recorded by the worker once it has written (``PassportScopes.record``)
        self.write_event(session, job_id=outcome.job_id, status=outcome.status, events=outcome.results,
                         skipped=outcome.skipped, categories_allowed=list(scope.categories or []))

    def write_event(
        self,
        session: Session,
        *,
        job_id: str,
        status: str,
        events: list[AddEvent],
        skipped: int,
        categories_allowed: list[str],
        blocked_reason: str | None = None,
    ) -> None:
        touched = [r for r in events if r.event != "NOOP"]
        detail: dict[str, Any] = {
            "job_id": job_id,
            "status": status,
            "events": {event: sum(1 for r in events if r.event == event) for event in ("ADD", "UPDATE", "NOOP", "CONFLICT")},
            "skipped": skipped,
            "categories_allowed": categories_allowed,
        }
        if blocked_reason is not None:
            detail["blocked_reason"] = blocked_reason
        self._record(
            session,
            "memories.write",
            memory_ids=[r.id for r in touched],
            categories=[r.category for r in touched],
            detail=detail,
        )

    def changed(self, session: Session, scope: MemoryScope, action: str, view: MemoryView) -> None:
        return None  # agents only read and add

    def answered(self, session: Session, scope: MemoryScope, outcome: AnswerOutcome) -> None:
        return None

    def listed(self, session: Session, scope: MemoryScope, page: Page, *, requested: Sequence[str] | None) -> None:
        """Listing is reading: the memories an agent was shown, like a search's."""
        self._record(
            session,
            "memories.read",
            memory_ids=[m.id for m in page.items],
            categories=[m.category for m in page.items],
            detail={"listed": True, "categories_searched": list(scope.narrow(requested) or []), "returned": len(page.items)},
        )

    def _record(self, session: Session, action: str, **fields: Any) -> None:
        agent = self.agent
        self.audit.record(
            session,
            action=action,
            actor_type="agent",
            actor_id=agent.id if agent is not None else None,
            universal_user_id=self.user.id,
            agent_id=agent.id if agent is not None else None,
            tenant_id=agent.owner_tenant_id if agent is not None else None,
            **fields,
        )


class PassportUserAudit:
    """The person's own changes: flags, corrections, deletions, answers."""

    def __init__(self, audit: AuditService, user: UniversalUser) -> None:
        self.audit = audit
        self.user = user

    def read(self, session: Session, scope: MemoryScope, outcome: RetrieveOutcome, *, requested: Sequence[str] | None) -> None:
        return None

    def wrote(self, session: Session, scope: MemoryScope, outcome: AddOutcome) -> None:
        return None

    def changed(self, session: Session, scope: MemoryScope, action: str, view: MemoryView) -> None:
        self._record(session, action, memory_ids=[view.id], categories=[view.category])

    def listed(self, session: Session, scope: MemoryScope, page: Page, *, requested: Sequence[str] | None) -> None:
        return None

    def answered(self, session: Session, scope: MemoryScope, outcome: AnswerOutcome) -> None:
        self._record(
            session,
            "question.answered",
            memory_ids=[*outcome.kept_memory_ids, *outcome.archived_memory_ids],
            detail={"question_id": outcome.clarification_id, "answer": outcome.resolution},
        )

    def _record(self, session: Session, action: str, **fields: Any) -> None:
        self.audit.record(
            session,
            action=action,
            actor_type="passport_user",
            actor_id=self.user.public_id,
            universal_user_id=self.user.id,
            **fields,
        )


class PassportScopes:
    def __init__(self, access: AgentAccessService, audit: AuditService) -> None:
        self.access = access
        self.audit = audit

    def agent(self, session: Session, caller: AgentCaller, *, writes: bool = False) -> MemoryScope:
        """An agent on the passport user its UUI names, within its grant as it stands now
        (``writes``: held so until the transaction ends, ``grant_state``)."""
        agent, user = caller.agent, caller.user
        assert user is not None  # the route authenticated the UUI too
        return self._agent_scope(agent, user, self.access.grant_state(session, agent, user, hold=writes))

    def mcp_client(
        self, session: Session, agent: GlobalAgent, user: UniversalUser, *, limit: ScopeRequest | None, writes: bool = False
    ) -> MemoryScope:
        """An MCP client on the person who approved it: an agent within its grant as it stands
        now, narrowed further when the client asked for less on a refresh (``limit``)."""
        scope = self._agent_scope(agent, user, self.access.grant_state(session, agent, user, hold=writes))
        if limit is None:
            return scope
        return replace(
            scope,
            categories=tuple(c for c in scope.categories or () if c in limit.categories),
            can_write=scope.can_write and limit.write,
        )

    def passport_user(self, user: UniversalUser) -> MemoryScope:
        """A signed-in person on their own memories: everything, and every change recorded."""
        return MemoryScope(
            owner=MemoryOwner.universal(user),
            actor=passport_actor(user),
            caller="passport_user",
            conflicts="question",
            audit=PassportUserAudit(self.audit, user),
        )

    def _agent_scope(self, agent: GlobalAgent, user: UniversalUser, state: GrantState) -> MemoryScope:
        return MemoryScope(
            owner=MemoryOwner.universal(user, source_tenant_id=agent.owner_tenant_id),
            actor=f"agent:{agent.id}",
            caller=f"agent:{agent.id}",
            conflicts="question",
            tenant_id=agent.owner_tenant_id,
            categories=tuple(state.categories),
            can_write=state.can_write,
            refusal=state.permission_error,
            for_agent=True,
            agent_id=agent.id,
            source={"agent_id": agent.id, "agent_name": agent.name},
            audit=AgentAudit(self.audit, agent, user),
        )

    # --- queued adds, when the worker runs them (memory.worker.QueuedWriteGate) ------------------------

    def admit(
        self, session: Session, job: Job, owner: MemoryOwner, requested: list[str] | None, *, hold: bool = False
    ) -> WriteAdmission:
        """May this agent's queued add still write, and in which categories (the grant's now,
        never more than when it was queued)?"""
        agent = AgentRepository(session).live(job.agent_id) if job.agent_id else None
        if agent is None:
            return WriteAdmission([], "grant_revoked")  # deleting an agent ends its grants
        if not agent.is_active or agent.verification_status == "rejected":
            return WriteAdmission([], "agent_inactive")
        scope = self._agent_scope(agent, owner.row, self.access.grant_state(session, agent, owner.row, hold=hold))
        if scope.refusal is not None:
            return WriteAdmission([], scope.refusal)
        if not scope.can_write:
            return WriteAdmission([], "write_not_permitted")  # made read-only since
        return WriteAdmission([c for c in scope.categories or () if requested is None or c in requested])

    def record(
        self, session: Session, job: Job, owner: MemoryOwner, admission: WriteAdmission, *, events: list[AddEvent], skipped: int
    ) -> None:
        agent = AgentRepository(session).any_by_ids([job.agent_id] if job.agent_id else []).get(job.agent_id or "")
        AgentAudit(self.audit, agent, owner.row).write_event(
            session,
            job_id=job.id,
            status=job.status,
            events=events,
            skipped=skipped,
            categories_allowed=admission.allowed_categories or [],
            blocked_reason=admission.blocked_reason,
        )
