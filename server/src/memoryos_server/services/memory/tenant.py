"""The tenant memory API: who may act, on whose memories, then one ``MemoryService`` call.

End-user routes act on the end-user named by ``X-End-User-ID`` (or the body's or query's
``external_user_id``). A JWT caller acts on their own memories in the tenant of the JWT: a
per-(person, tenant) owner row, never the account row shared by every organisation they
belong to (``IdentityService.member_owner``). Only adds create an end-user on
first sight: reads of an unknown end-user find nothing and write nothing, so reads never take
SQLite's write lock. Workspace routes act on the tenant's workspace owner row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from memoryos_server.engine.types import ChatMessage
from memoryos_server.errors import ClarificationNotFound, EndUserRequired, MemoryNotFound, ReviewNotFound, UserNotFound
from memoryos_server.services.identity import WORKSPACE_SUFFIX, IdentityService
from memoryos_server.services.memory.idempotency import add_request
from memoryos_server.services.memory.owner import MemoryOwner
from memoryos_server.services.memory.service import MemoryService
from memoryos_server.services.memory.retrieve import new_retrieval_id
from memoryos_server.services.memory.types import (
    AddOutcome,
    AnswerOutcome,
    JobView,
    MemoryView,
    Page,
    RetrieveOutcome,
    VersionView,
)
from memoryos_server.services.permissions import Permission
from memoryos_server.services.principal import Principal
from memoryos_server.storage.repositories.identity import ApiKeyRepository, UserRepository
from memoryos_server.storage.repositories.memories import TENANT, MemoryRepository

EndUserRef = tuple[str | None, str | None]  # (X-End-User-ID header, body or query field)


class TenantMemoryService:
    def __init__(self, memory: MemoryService, identity: IdentityService) -> None:
        self.memory = memory
        self.identity = identity

    # --- owners ---------------------------------------------------------------------------------

    def _writer_owner(self, session: Session, principal: Principal, end_user: EndUserRef) -> MemoryOwner:
        tenant_id = principal.require(Permission.MEMORY_WRITE)
        user = self.identity.resolve_end_user(session, principal, header_value=end_user[0], body_value=end_user[1])
        return MemoryOwner.end_user(user, tenant_id=tenant_id)

    def _reader_owner(
        self,
        session: Session,
        principal: Principal,
        end_user: EndUserRef,
        permission: Permission = Permission.MEMORY_READ,
    ) -> MemoryOwner | None:
        """The end-user if they exist (None if never seen); nothing is created."""
        tenant_id = principal.require(permission)
        if principal.kind == "user":
            member = self.identity.member_owner(session, principal, create=False)
            return MemoryOwner.end_user(member, tenant_id=tenant_id) if member is not None else None
        header, body = end_user
        raw = header if header else body
        if raw is None or not raw.strip():
            raise EndUserRequired()
        try:
            user = self.identity.end_user(session, principal, raw.strip(), create=False)
        except UserNotFound:
            return None
        return MemoryOwner.end_user(user, tenant_id=tenant_id)

    def _existing_owner(
        self, session: Session, principal: Principal, end_user: EndUserRef, permission: Permission
    ) -> MemoryOwner:
        owner = self._reader_owner(session, principal, end_user, permission)
        if owner is None:
            raise MemoryNotFound("no such memory")
        return owner

    def _workspace(
        self, session: Session, principal: Principal, permission: Permission, *, create: bool
    ) -> MemoryOwner | None:
        tenant_id = principal.require(permission)
        assert principal.tenant_public_id is not None
        if create:
            user = self.identity.workspace_owner(session, tenant_id, principal.tenant_public_id)
        else:
            user = UserRepository(session).by_external_id(f"{principal.tenant_public_id}{WORKSPACE_SUFFIX}")
            if user is None:
                return None
        return MemoryOwner.workspace(user)

    def _owner_of_tenant_memory(self, session: Session, principal: Principal, memory_id: str) -> MemoryOwner:
        """The end-user owning one of this tenant's end-user memories (the SDK deletes by id alone)."""
        tenant_id = principal.require(Permission.MEMORY_WRITE)
        row = MemoryRepository(session, TENANT).in_tenant(tenant_id, memory_id, scope="tenant")
        if row is None:
            raise MemoryNotFound("no such memory")
        user = UserRepository(session).by_id(row.owner_id)
        # A dashboard human's own memories (kind "member") are theirs alone, not the backend's.
        if user is None or user.kind != "end_user":
            raise MemoryNotFound("no such memory")
        return MemoryOwner.end_user(user, tenant_id=tenant_id)

    @staticmethod
    def _api_key_id(session: Session, principal: Principal) -> int | None:
        if principal.kind != "api_key" or principal.tenant_id is None:
            return None
        key = ApiKeyRepository(session).by_public_id(principal.tenant_id, principal.credential_id)
        return key.id if key is not None else None

    # --- end-user memory ------------------------------------------------------------------------------

    def add(
        self,
        session: Session,
        principal: Principal,
        *,
        end_user: EndUserRef,
        messages: Sequence[ChatMessage],
        render: Callable[[AddOutcome], bytes],
        idempotency_key: str | None = None,
        infer: bool = True,
        category: str | None = None,
        metadata: dict[str, Any] | None = None,
        source: dict[str, Any] | None = None,
        conversation_id: str | None = None,
        agent_id: str | None = None,
    ) -> tuple[bytes, bool]:
        """The response body (``render``ed, or replayed for a repeated idempotency key)."""
        owner = self._writer_owner(session, principal, end_user)

        def produce() -> bytes:
            outcome = self.memory.add(
                session,
                owner=owner,
                messages=messages,
                actor=principal.actor,
                infer=infer,
                category=category,
                metadata=metadata,
                source=source,
                conversation_id=conversation_id,
                agent_id=agent_id,
                api_key_id=self._api_key_id(session, principal),
            )
            return render(outcome)

        request = add_request(messages, infer=infer, category=category)
        return self.memory.idempotency.once(
            session, owner=owner, caller="tenant", key=idempotency_key, request=request, produce=produce
        )

    def job(self, session: Session, principal: Principal, job_id: str) -> JobView:
        tenant_id = principal.require(Permission.MEMORY_READ)
        return self.memory.job(session, job_id=job_id, family="tenant", tenant_id=tenant_id)

    def retrieve(
        self,
        session: Session,
        principal: Principal,
        *,
        end_user: EndUserRef,
        query: str,
        limit: int,
        categories: Sequence[str] | None,
        time_filter_days: int | None,
        as_of: datetime | None,
        format: str,
        context_max_tokens: int,
        min_relevance: float | None = None,
    ) -> RetrieveOutcome:
        owner = self._reader_owner(session, principal, end_user)
        if owner is None:
            return RetrieveOutcome(new_retrieval_id(), [], "", 0, None)
        return self.memory.retrieve(
            session,
            owner=owner,
            query=query,
            limit=limit,
            categories=categories,
            time_filter_days=time_filter_days,
            as_of=as_of,
            format=format,
            context_max_tokens=context_max_tokens,
            min_relevance=min_relevance,
        )

    def list(
        self,
        session: Session,
        principal: Principal,
        *,
        end_user: EndUserRef,
        categories: Sequence[str] | None,
        cursor: str | None,
        limit: int,
    ) -> Page:
        owner = self._reader_owner(session, principal, end_user)
        if owner is None:
            return Page([], None, limit, 0)
        return self.memory.list(session, owner=owner, categories=categories, cursor=cursor, limit=limit)

    def get(self, session: Session, principal: Principal, *, end_user: EndUserRef, memory_id: str) -> MemoryView:
        owner = self._existing_owner(session, principal, end_user, Permission.MEMORY_READ)
        return self.memory.get(session, owner=owner, memory_id=memory_id)

    def history(
        self, session: Session, principal: Principal, *, end_user: EndUserRef, memory_id: str
    ) -> list[VersionView]:
        owner = self._existing_owner(session, principal, end_user, Permission.MEMORY_READ)
        return self.memory.history(session, owner=owner, memory_id=memory_id)

    def update(
        self, session: Session, principal: Principal, *, end_user: EndUserRef, memory_id: str, **changes: Any
    ) -> MemoryView:
        owner = self._existing_owner(session, principal, end_user, Permission.MEMORY_WRITE)
        return self.memory.update(session, owner=owner, memory_id=memory_id, actor=principal.actor, **changes)

    def delete(
        self, session: Session, principal: Principal, *, end_user: EndUserRef, memory_id: str, hard: bool
    ) -> bool:
        """With no end-user named (the published SDK sends none), any end-user memory of the
        caller's tenant; with one, only theirs."""
        if principal.kind != "user" and not (end_user[0] or end_user[1]):
            owner = self._owner_of_tenant_memory(session, principal, memory_id)
        else:
            owner = self._existing_owner(session, principal, end_user, Permission.MEMORY_WRITE)
        return self.memory.delete(session, owner=owner, memory_id=memory_id, actor=principal.actor, hard=hard)

    def answer_clarification(
        self,
        session: Session,
        principal: Principal,
        *,
        end_user: EndUserRef,
        clarification_id: str,
        answer: str,
        free_text: str | None,
    ) -> AnswerOutcome:
        owner = self._reader_owner(session, principal, end_user, Permission.MEMORY_WRITE)
        if owner is None:
            raise ClarificationNotFound("no such clarification")
        return self.memory.answer(
            session,
            owner=owner,
            conflict_id=clarification_id,
            answer=answer,
            actor=principal.actor,
            free_text=free_text,
        )

    # --- workspace memory -----------------------------------------------------------------------------

    def workspace_add(
        self,
        session: Session,
        principal: Principal,
        *,
        messages: Sequence[ChatMessage],
        render: Callable[[AddOutcome], bytes],
        idempotency_key: str | None = None,
        infer: bool = True,
        category: str | None = None,
        metadata: dict[str, Any] | None = None,
        source: dict[str, Any] | None = None,
        conversation_id: str | None = None,
        agent_id: str | None = None,
    ) -> tuple[bytes, bool]:
        owner = self._workspace(session, principal, Permission.WORKSPACE_WRITE, create=True)
        assert owner is not None

        def produce() -> bytes:
            return render(
                self.memory.add(
                    session,
                    owner=owner,
                    messages=messages,
                    actor=principal.actor,
                    infer=infer,
                    category=category,
                    metadata=metadata,
                    source=source,
                    conversation_id=conversation_id,
                    agent_id=agent_id,
                    api_key_id=self._api_key_id(session, principal),
                )
            )

        request = add_request(messages, infer=infer, category=category)
        return self.memory.idempotency.once(
            session, owner=owner, caller="tenant", key=idempotency_key, request=request, produce=produce
        )

    def workspace_retrieve(self, session: Session, principal: Principal, **search: Any) -> RetrieveOutcome:
        owner = self._workspace(session, principal, Permission.WORKSPACE_READ, create=False)
        if owner is None:
            return RetrieveOutcome(new_retrieval_id(), [], "", 0, None)
        return self.memory.retrieve(session, owner=owner, **search)

    def workspace_list(
        self,
        session: Session,
        principal: Principal,
        *,
        categories: Sequence[str] | None,
        cursor: str | None,
        limit: int,
    ) -> Page:
        owner = self._workspace(session, principal, Permission.WORKSPACE_READ, create=False)
        if owner is None:
            return Page([], None, limit, 0)
        return self.memory.list(session, owner=owner, categories=categories, cursor=cursor, limit=limit)

    def workspace_get(self, session: Session, principal: Principal, memory_id: str) -> MemoryView:
        owner = self._workspace(session, principal, Permission.WORKSPACE_READ, create=False)
        if owner is None:
            raise MemoryNotFound("no such memory")
        return self.memory.get(session, owner=owner, memory_id=memory_id)

    def workspace_history(self, session: Session, principal: Principal, memory_id: str) -> list[VersionView]:
        owner = self._workspace(session, principal, Permission.WORKSPACE_READ, create=False)
        if owner is None:
            raise MemoryNotFound("no such memory")
        return self.memory.history(session, owner=owner, memory_id=memory_id)

    def workspace_update(self, session: Session, principal: Principal, memory_id: str, **changes: Any) -> MemoryView:
        owner = self._workspace(session, principal, Permission.WORKSPACE_WRITE, create=False)
        if owner is None:
            raise MemoryNotFound("no such memory")
        return self.memory.update(session, owner=owner, memory_id=memory_id, actor=principal.actor, **changes)

    def workspace_delete(self, session: Session, principal: Principal, memory_id: str, *, hard: bool) -> bool:
        owner = self._workspace(session, principal, Permission.WORKSPACE_WRITE, create=False)
        if owner is None:
            raise MemoryNotFound("no such memory")
        return self.memory.delete(session, owner=owner, memory_id=memory_id, actor=principal.actor, hard=hard)

    # --- tenant reviews (workspace conflicts) ------------------------------------------------------------

    def reviews(
        self, session: Session, principal: Principal, *, status: str | None, cursor: str | None, limit: int
    ) -> Page:
        owner = self._workspace(session, principal, Permission.REVIEWS_READ, create=False)
        if owner is None:
            return Page([], None, limit, 0)
        return self.memory.questions(session, owner=owner, status=status, cursor=cursor, limit=limit)

    def answer_review(
        self, session: Session, principal: Principal, review_id: str, *, answer: str, free_text: str | None = None
    ) -> AnswerOutcome:
        owner = self._workspace(session, principal, Permission.REVIEWS_ANSWER, create=False)
        if owner is None:
            raise ReviewNotFound("no such review")
        return self.memory.answer(
            session, owner=owner, conflict_id=review_id, answer=answer, actor=principal.actor, free_text=free_text
        )
