"""Tenant reviews: contradictions between workspace memories, for the dashboard."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from memoryos_server.api.deps import RuntimeDep, ServicesDep, TenantPrincipal
from memoryos_server.api.envelope import ok, page
from memoryos_server.api.routing import AuthenticatedRoute
from memoryos_server.api.schemas.memory import ReviewAnswerIn, answer_read, review_read

router = APIRouter(prefix="/v1/tenant/reviews", tags=["reviews"], route_class=AuthenticatedRoute)


@router.get("", summary="Workspace conflicts to review (open ones by default)")
def list_reviews(
    principal: TenantPrincipal,
    runtime: RuntimeDep,
    services: ServicesDep,
    status: Annotated[Literal["open", "resolved", "all"], Query()] = "open",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    with runtime.db.session(write=False) as session:
        result = services.tenant_memory.reviews(
            session, principal, status=None if status == "all" else status, cursor=cursor, limit=limit
        )
    return page([review_read(r) for r in result.items], next_cursor=result.next_cursor, limit=limit, total=result.total)


@router.post("/{review_id}/answer", summary="Answer a review: A, B, both or neither")
def answer_review(
    review_id: Annotated[str, Path(max_length=64)],
    body: ReviewAnswerIn,
    principal: TenantPrincipal,
    runtime: RuntimeDep,
    services: ServicesDep,
) -> dict[str, Any]:
    with runtime.db.session() as session:
        outcome = services.tenant_memory.answer_review(
            session, principal, review_id, answer=body.answer, free_text=body.free_text
        )
    return ok(answer_read(outcome))
