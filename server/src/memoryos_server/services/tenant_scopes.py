"""Turning an authenticated caller into the ``MemoryScope`` it acts in, once per request.

The API's dependencies (and the pages, and the job worker) call these; the memory service
only ever sees the scope. Each builder checks the caller's right to the memories it names:

- ``end_user``: a tenant's backend (API key, OAuth client) for the end-user it names, or a
  dashboard human for their own memories in the tenant of their JWT;
- ``workspace``: a member on the tenant's workspace memories (and their reviews);
- ``tenant``: tenant-wide calls that name no owner (job status, delete by memory id);
- ``reviews``: the tenant's review queue, whoever's memories each review is about;
- the passport builders (an agent within its grant, a passport user on their own memories)
  live with the passport (``services/passport``).

Reads never create an owner: an end-user or workspace never written to reads as empty, and a
read takes no write lock on SQLite.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy.orm import Session

from memoryos_server.errors import EndUserRequired, MemoryNotFound, UserNotFound
from memoryos_server.services.identity import IdentityService
from memoryos_server.services.memory.owner import MemoryOwner
from memoryos_server.services.memory.scope import MemoryScope
from memoryos_server.services.permissions import Permission
from memoryos_server.services.principal import Principal
from memoryos_server.services.seen import SeenLog
from memoryos_server.storage.repositories.identity import ApiKeyRepository, UserRepository
from memoryos_server.storage.repositories.memories import TENANT, MemoryRepository

# The permissions whose scopes may change memories (answering a review archives one).
_WRITING = frozenset({Permission.MEMORY_WRITE, Permission.WORKSPACE_WRITE, Permission.REVIEWS_ANSWER})
TENANT_CALLER = "tenant"  # a tenant's backend is one idempotency namespace, whichever key it uses


class TenantScopes:
    def __init__(self, identity: IdentityService, *, seen: SeenLog) -> None:
        self.identity = identity
        self.seen = seen  # an end-user the tenant acts for is "last seen" now (to the minute)

    def end_user(
        self, session: Session, principal: Principal, reference: str | None, *, permission: Permission, create: bool = False
    ) -> MemoryScope:
        """The end-user ``reference`` names (``X-End-User-ID``, else the body's or query's
        ``external_user_id``), or the JWT caller's own memories. An add (``create``) makes the
        end-user on first sight; anything else on one never seen gets a scope with no owner."""
        tenant_id = principal.require(permission)
        write = permission in _WRITING
        if principal.kind == "user":
            user = self.identity.member_owner(session, principal, create=create)
        else:
            if reference is None or not reference.strip():
                raise EndUserRequired()
            try:
                user = self.identity.end_user(session, principal, reference.strip(), create=create)
            except UserNotFound:
                user = None
            else:
                self.seen.note(user)
        owner = MemoryOwner.end_user(user, tenant_id=tenant_id) if user is not None else None
        return self._scope(session, principal, owner, tenant_id=tenant_id, conflicts="clarification", write=write)

    def workspace(self, session: Session, principal: Principal, permission: Permission, *, create: bool = False) -> MemoryScope:
        """The tenant's workspace memories; their owner row is made by the first add."""
        tenant_id = principal.require(permission)
        assert principal.tenant_public_id is not None
        write = permission in _WRITING
        if create:
            user = self.identity.workspace_owner(session, tenant_id, principal.tenant_public_id)
        else:
            user = self.identity.existing_workspace_owner(session, principal.tenant_public_id)
        owner = MemoryOwner.workspace(user) if user is not None else None
        return self._scope(session, principal, owner, tenant_id=tenant_id, conflicts="review", write=write)

    def tenant(self, session: Session, principal: Principal, permission: Permission) -> MemoryScope:
        """Tenant-wide, no owner: job status, delete by memory id (the published SDK names no
        end-user for either)."""
        tenant_id = principal.require(permission)
        write = permission in _WRITING
        scope = self._scope(session, principal, None, tenant_id=tenant_id, conflicts="clarification", write=write)
        return dataclasses.replace(scope, tenant_wide=True)

    def reviews(self, session: Session, principal: Principal, permission: Permission) -> MemoryScope:
        """The tenant's review queue: every review of the tenant, whoever's memories it is about
        (the workspace's contradictions; ties between two service writers on an end-user's).
        Answering one narrows the scope to that owner (``MemoryService.review_scope``)."""
        tenant_id = principal.require(permission)
        write = permission in _WRITING
        scope = self._scope(session, principal, None, tenant_id=tenant_id, conflicts="review", write=write)
        return dataclasses.replace(scope, tenant_wide=True)

    def owner_of_memory(self, session: Session, scope: MemoryScope, memory_id: str, *, seen: bool = True) -> MemoryScope:
        """A tenant-wide writer narrowed to the end-user owning one of the tenant's end-user
        memories (the published SDK deletes by memory id alone). A dashboard human's own
        memories (kind ``member``) are theirs alone, never the backend's. ``seen``: the tenant
        acts for the end-user (not a dashboard reading a memory's history)."""
        row = MemoryRepository(session, TENANT).in_tenant(scope.tenant_id or 0, memory_id, scope="tenant")
        user = UserRepository(session).by_id(row.owner_id) if row is not None else None
        if user is None or user.kind != "end_user":
            raise MemoryNotFound("no such memory")
        if seen:
            self.seen.note(user)
        return MemoryScope(
            owner=MemoryOwner.end_user(user, tenant_id=scope.tenant_id),
            actor=scope.actor,
            caller=scope.caller,
            conflicts=scope.conflicts,
            tenant_id=scope.tenant_id,
            asks_clarifications=True,
            api_key_id=scope.api_key_id,
        )

    @staticmethod
    def _scope(
        session: Session, principal: Principal, owner: MemoryOwner | None, *, tenant_id: int, conflicts: str, write: bool
    ) -> MemoryScope:
        """``can_write`` follows the permission checked: a reader's scope cannot be used to write."""
        return MemoryScope(
            owner=owner,
            actor=principal.actor,
            caller=TENANT_CALLER,
            conflicts=conflicts,  # type: ignore[arg-type]
            tenant_id=tenant_id,
            can_write=write,
            asks_clarifications=conflicts == "clarification",
            api_key_id=_api_key_id(session, principal) if write else None,
        )


def _api_key_id(session: Session, principal: Principal) -> int | None:
    """The key row a tenant write is stamped with (``memories.api_key_id``)."""
    if principal.kind != "api_key" or principal.tenant_id is None:
        return None
    key = ApiKeyRepository(session).by_public_id(principal.tenant_id, principal.credential_id)
    return key.id if key is not None else None
