"""Tenant memory: an end-user's memories (SPEC §5 "Tenant memory").

The end-user is ``X-End-User-ID``, else the body's or query's ``external_user_id`` (what the
published SDK sends); a JWT caller is their own end-user.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from memoryos_server.api.deps import TenantPrincipal
from memoryos_server.api.memory_routes import (
    AddRoute,
    AnswerRoute,
    BrowseRoutes,
    DeleteRoute,
    JobRoute,
    MemoryMount,
    Need,
    RetrieveRoute,
    memory_router,
)
from memoryos_server.api.schemas.memory import AddIn, ClarificationAnswerIn, JobOut, RetrieveIn, RetrieveOut
from memoryos_server.services.container import Services
from memoryos_server.services.memory.query_vectors import principal_asker
from memoryos_server.services.memory.scope import MemoryScope
from memoryos_server.services.permissions import Permission
from memoryos_server.services.principal import Principal


def end_user_scope(session: Session, services: Services, principal: Principal, need: Need, named: str | None) -> MemoryScope:
    scopes = services.scopes
    if need is Need.ADD:
        return scopes.end_user(session, principal, named, permission=Permission.MEMORY_WRITE, create=True)
    if need is Need.JOBS:
        return scopes.tenant(session, principal, Permission.MEMORY_READ)
    if need is Need.DELETE and principal.kind != "user" and not named:
        # The published SDK deletes by memory id alone: any end-user memory of the tenant.
        return scopes.tenant(session, principal, Permission.MEMORY_WRITE)
    permission = Permission.MEMORY_READ if need is Need.READ else Permission.MEMORY_WRITE
    return scopes.end_user(session, principal, named, permission=permission)


END_USERS = MemoryMount(
    prefix="/v1/memories",
    tags=["memories"],
    caller=TenantPrincipal,
    resolve=end_user_scope,
    names_end_user=True,
    asker=principal_asker,
)


router = memory_router(
    END_USERS,
    add=AddRoute(AddIn, "Extract memories from messages and store them"),
    job=JobRoute("The state of an extraction job", JobOut),
    retrieve=RetrieveRoute(RetrieveIn, "Hybrid search, with a block to add to the agent's prompt", RetrieveOut),
    browse=BrowseRoutes("the end-user's memories"),
    answer=AnswerRoute(
        "/clarifications/{clarification_id}/answer",
        "clarification_id",
        ClarificationAnswerIn,
        "Answer a clarification the agent asked",
    ),
    edit=True,
    delete=DeleteRoute("Delete a memory: soft by default, or for good"),
)
