"""Workspace memory: tenant-wide memories written by members (not tied to an end-user), and the
tenant's review queue: the contradictions between workspace memories, and the ties between two
service writers' claims about an end-user."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Literal

from fastapi import Query
from sqlalchemy.orm import Session

from memoryos_server.api.deps import ReadSession, ServicesDep, TenantPrincipal
from memoryos_server.api.envelope import Paged, page
from memoryos_server.api.memory_routes import (
    AddRoute,
    AnswerRoute,
    BrowseRoutes,
    DeleteRoute,
    MemoryMount,
    Need,
    RetrieveRoute,
    memory_router,
    scope_dependency,
)
from memoryos_server.api.schemas.memory import RetrieveIn, RetrieveOut, ReviewAnswerIn, TenantReviewOut, WorkspaceAddIn
from memoryos_server.services.container import Services
from memoryos_server.services.memory.query_vectors import principal_asker
from memoryos_server.services.memory.scope import MemoryScope
from memoryos_server.services.permissions import Permission
from memoryos_server.services.principal import Principal


def workspace_scope(session: Session, services: Services, principal: Principal, need: Need, named: str | None) -> MemoryScope:
    if need is Need.ADD:
        return services.scopes.workspace(session, principal, Permission.WORKSPACE_WRITE, create=True)
    permission = Permission.WORKSPACE_READ if need is Need.READ else Permission.WORKSPACE_WRITE
    return services.scopes.workspace(session, principal, permission)


def review_scope(session: Session, services: Services, principal: Principal, need: Need, named: str | None) -> MemoryScope:
    permission = Permission.REVIEWS_READ if need is Need.READ else Permission.REVIEWS_ANSWER
    return services.scopes.reviews(session, principal, permission)


WORKSPACE = MemoryMount(
    prefix="/v1/workspace/memories",
    tags=["workspace"],
    caller=TenantPrincipal,
    resolve=workspace_scope,
    asker=principal_asker,
)
REVIEWS = replace(WORKSPACE, prefix="/v1/tenant/reviews", tags=["reviews"], resolve=review_scope)

router = memory_router(
    WORKSPACE,
    add=AddRoute(WorkspaceAddIn, "Add workspace memories (contradictions open tenant reviews)"),
    retrieve=RetrieveRoute(RetrieveIn, "Search the workspace memories", RetrieveOut),
    browse=BrowseRoutes("workspace memories"),
    edit=True,
    delete=DeleteRoute("Delete a workspace memory"),
)

reviews_router = memory_router(
    REVIEWS, answer=AnswerRoute("/{review_id}/answer", "review_id", ReviewAnswerIn, "Answer a review: A, B, both or neither")
)
ReviewReader = scope_dependency(REVIEWS, Need.READ)


@reviews_router.get(
    "",
    summary="Conflicts to review: workspace contradictions and service writers' ties (open ones by default)",
    response_model=Paged[TenantReviewOut],
)
def list_reviews(
    scope: ReviewReader,  # type: ignore[valid-type]
    session: ReadSession,
    services: ServicesDep,
    status: Annotated[Literal["open", "resolved", "all"], Query()] = "open",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    result = services.memory.questions(session, scope, status=None if status == "all" else status, cursor=cursor, limit=limit)
    return page([TenantReviewOut.of(r) for r in result.items], next_cursor=result.next_cursor, limit=limit, total=result.total)
