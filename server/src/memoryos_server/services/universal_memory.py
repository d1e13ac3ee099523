"""An agent reading and writing a passport user's universal memory, within its grant.

The grant is checked on every call, so revocation and expiry take effect on the next one.
Reads search only the granted categories, inside the query (the memory service's search
filter), and the results are checked once more on the way out. Every read and write is an
audit event the user sees in their activity, a refused read too (``returned: 0`` and the
``permission_error``).

An add whose extraction is queued (LLM) is checked twice more when the worker runs it
(``admit``): a grant revoked, expired or made read-only in the meantime blocks the job, and
the categories written are those the grant allows then. Its audit event is recorded when the
worker has written (``record``), with the ids of the memories it wrote.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from memoryos_server.engine.types import ChatMessage
from memoryos_server.errors import JobNotFound, WriteNotPermitted
from memoryos_server.services.audit import AuditService
from memoryos_server.services.ids import is_plain_id
from memoryos_server.services.memory import AddEvent, AddOutcome, JobView, MemoryOwner, MemoryService, RetrievedMemory
from memoryos_server.services.memory.idempotency import add_request
from memoryos_server.services.memory.retrieve import new_retrieval_id
from memoryos_server.services.memory.worker import WriteAdmission
from memoryos_server.services.universal import UniversalAccessService
from memoryos_server.storage.models import GlobalAgent, Job, UniversalUser
from memoryos_server.storage.repositories.agents import AgentRepository
from memoryos_server.storage.repositories.jobs import JobRepository


@dataclass(frozen=True)
class UniversalRetrieval:
    retrieval_id: str
    memories: list[RetrievedMemory] = field(default_factory=list)
    system_prompt_addition: str = ""
    context_token_count: int = 0
    permission_error: str | None = None
    categories_available: list[str] = field(default_factory=list)


class UniversalMemoryAccess:
    def __init__(self, memory: MemoryService, access: UniversalAccessService) -> None:
        self.memory = memory
        self.access = access
        self.audit = AuditService()

    @staticmethod
    def owner(agent: GlobalAgent, user: UniversalUser) -> MemoryOwner:
        return MemoryOwner.universal(user, source_tenant_id=agent.owner_tenant_id)

    def retrieve(
        self,
        session: Session,
        agent: GlobalAgent,
        user: UniversalUser,
        *,
        query: str,
        limit: int = 10,
        categories: Sequence[str] | None = None,
        format: str = "bullets",
        context_max_tokens: int = 500,
        min_relevance: float | None = None,
    ) -> UniversalRetrieval:
        """Memories in the granted categories (narrowed to ``categories`` when given).

        Without an active grant: nothing, and why (``no_grant_for_user``, ``grant_revoked``,
        ``grant_expired``). Asking only for categories outside the grant: nothing, with
        ``categories_not_granted``. An empty category list is never passed on, because the
        memory service reads "no categories" as "all categories".
        """
        state = self.access.grant_state(session, agent, user)
        if not state.active:
            refused = UniversalRetrieval(new_retrieval_id(), permission_error=state.permission_error)
            self._record_refused_read(session, agent, user, refused, requested=categories)
            return refused
        granted = state.categories
        allowed = [c for c in granted if categories is None or not categories or c in categories]
        if not allowed:
            refused = UniversalRetrieval(
                new_retrieval_id(), permission_error="categories_not_granted", categories_available=granted
            )
            self._record_refused_read(session, agent, user, refused, requested=categories)
            return refused
        outcome = self.memory.retrieve(
            session,
            owner=self.owner(agent, user),
            query=query,
            limit=limit,
            categories=allowed,
            format=format,
            context_max_tokens=context_max_tokens,
            consent_note=True,
            with_clarification=False,
            min_relevance=min_relevance,
        )
        memories = [m for m in outcome.memories if m.category in allowed]
        # Never reached while the search filter holds; if it ever did not, show no text at all
        # rather than a prompt block that may quote a category outside the grant.
        text_ok = len(memories) == len(outcome.memories) and bool(memories)
        self.audit.record(
            session,
            action="memories.read",
            actor_type="agent",
            actor_id=agent.id,
            universal_user_id=user.id,
            agent_id=agent.id,
            tenant_id=agent.owner_tenant_id,
            memory_ids=[m.id for m in memories],
            categories=[m.category for m in memories],
            detail={"retrieval_id": outcome.retrieval_id, "categories_searched": allowed, "returned": len(memories)},
        )
        return UniversalRetrieval(
            retrieval_id=outcome.retrieval_id,
            memories=memories,
            system_prompt_addition=outcome.system_prompt_addition if text_ok else "",
            context_token_count=outcome.context_token_count if text_ok else 0,
            categories_available=granted,
        )

    def add(
        self,
        session: Session,
        agent: GlobalAgent,
        user: UniversalUser,
        *,
        messages: Sequence[ChatMessage],
        render: Callable[[AddOutcome], bytes],
        metadata: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> tuple[bytes, bool]:
        """Extract and store memories in the categories the grant allows; the rest are
        dropped and counted in ``skipped``. No active read-write grant → ``WriteNotPermitted``.

        Returns the rendered body (replayed for a repeated ``idempotency_key``) and whether
        it was a replay.
        """
        state = self.access.grant_state(session, agent, user)
        if not state.can_write:
            raise WriteNotPermitted("this agent may not add to this user's memory")
        owner = self.owner(agent, user)

        def produce() -> bytes:
            outcome = self.memory.add(
                session,
                owner=owner,
                messages=messages,
                actor=f"agent:{agent.id}",
                metadata=metadata,
                source={"agent_id": agent.id, "agent_name": agent.name},
                agent_id=agent.id,
                allowed_categories=state.categories,
            )
            if outcome.status != "queued":  # a queued add is recorded when the worker has written
                self._record_write(
                    session, agent, user, job_id=outcome.job_id, status=outcome.status, events=outcome.results,
                    skipped=outcome.skipped, categories_allowed=state.categories,
                )
            return render(outcome)

        return self.memory.idempotency.once(
            session,
            owner=owner,
            caller=f"agent:{agent.id}",
            key=idempotency_key,
            request=add_request(messages),
            produce=produce,
        )

    def job(self, session: Session, agent: GlobalAgent, user: UniversalUser, job_id: str) -> JobView:
        """One of this agent's own add jobs for this user. Anyone else's is simply not found."""
        row = JobRepository(session).get(job_id, family="universal", owner_id=user.id) if is_plain_id(job_id) else None
        if row is None or row.agent_id != agent.id:
            raise JobNotFound("no such job")
        return self.memory.job(session, job_id=job_id, family="universal", owner=self.owner(agent, user))

    def _record_refused_read(
        self,
        session: Session,
        agent: GlobalAgent,
        user: UniversalUser,
        refused: UniversalRetrieval,
        *,
        requested: Sequence[str] | None,
    ) -> None:
        """A read that returned nothing because the grant did not allow it: the user sees that
        the agent asked, and why it got nothing."""
        self.audit.record(
            session,
            action="memories.read",
            actor_type="agent",
            actor_id=agent.id,
            universal_user_id=user.id,
            agent_id=agent.id,
            tenant_id=agent.owner_tenant_id,
            detail={
                "retrieval_id": refused.retrieval_id,
                "categories_searched": [],
                "categories_requested": list(requested or []),
                "returned": 0,
                "permission_error": refused.permission_error,
            },
        )

    # --- queued adds, when the worker runs them (memory.worker.QueuedWriteGate) ------------------------

    def admit(self, session: Session, job: Job, owner: MemoryOwner, requested: list[str] | None) -> WriteAdmission:
        """May this agent's queued add still write, and in which categories (the grant's now,
        never more than when it was queued)?"""
        agent = AgentRepository(session).live(job.agent_id) if job.agent_id else None
        if agent is None:
            return WriteAdmission([], "grant_revoked")  # deleting an agent ends its grants
        if not agent.is_active or agent.verification_status == "rejected":
            return WriteAdmission([], "agent_inactive")
        state = self.access.grant_state(session, agent, owner.row)
        if not state.active:
            return WriteAdmission([], state.permission_error)
        if not state.can_write:
            return WriteAdmission([], "write_not_permitted")  # made read-only since
        return WriteAdmission([c for c in state.categories if requested is None or c in requested])

    def record(
        self, session: Session, job: Job, owner: MemoryOwner, admission: WriteAdmission, *, events: list[AddEvent], skipped: int
    ) -> None:
        agent = AgentRepository(session).any_by_ids([job.agent_id] if job.agent_id else []).get(job.agent_id or "")
        self._record_write(
            session,
            agent,
            owner.row,
            job_id=job.id,
            status=job.status,
            events=events,
            skipped=skipped,
            categories_allowed=admission.allowed_categories or [],
            blocked_reason=admission.blocked_reason,
        )

    def _record_write(
        self,
        session: Session,
        agent: GlobalAgent | None,
        user: UniversalUser,
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
        self.audit.record(
            session,
            action="memories.write",
            actor_type="agent",
            actor_id=agent.id if agent is not None else None,
            universal_user_id=user.id,
            agent_id=agent.id if agent is not None else None,
            tenant_id=agent.owner_tenant_id if agent is not None else None,
            memory_ids=[r.id for r in touched],
            categories=[r.category for r in touched],
            detail=detail,
        )
