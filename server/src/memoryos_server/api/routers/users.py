"""A tenant's end-users."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from memoryos_server.api.deps import ReadSession, ServicesDep, TenantPrincipal
from memoryos_server.api.envelope import Envelope, Paged, ok, page
from memoryos_server.api.routing import AuthenticatedRoute
from memoryos_server.api.schemas.common import RowIdCursor
from memoryos_server.api.schemas.identity import EndUserDeletedOut, EndUserExportOut, EndUserOut

router = APIRouter(prefix="/v1/users", tags=["users"], route_class=AuthenticatedRoute)


@router.get("", summary="The tenant's end-users, with memory counts", response_model=Paged[EndUserOut])
def list_users(
    principal: TenantPrincipal,
    session: ReadSession,
    services: ServicesDep,
    cursor: RowIdCursor = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    items, next_id, total = services.users.list(session, principal, cursor=cursor, limit=limit)
    return page([EndUserOut.of(i) for i in items], next_cursor=str(next_id) if next_id else None, limit=limit, total=total)


# The tenant's own id, or the usr_ public id: the only way to reach an id a URL path cannot
# carry (one with "/", say), so that every end-user can still be read, exported and erased.
EndUserRef = Annotated[
    str,
    Path(
        min_length=1,
        max_length=255,
        description="The tenant's own id for the end-user, or its usr_ public id (for ids a path cannot carry, such as ones with '/')",
    ),
]


@router.get(
    "/{external_user_id}", summary="One end-user by the tenant's own id or its usr_ id", response_model=Envelope[EndUserOut]
)
def get_user(external_user_id: EndUserRef, principal: TenantPrincipal, session: ReadSession, services: ServicesDep) -> dict[str, Any]:
    return ok(EndUserOut.of(services.users.get(session, principal, external_user_id)))


@router.get(
    "/{external_user_id}/export",
    summary="Every memory of the end-user, with its versions",
    response_model=Envelope[EndUserExportOut],
)
def export_user(
    external_user_id: EndUserRef, principal: TenantPrincipal, session: ReadSession, services: ServicesDep
) -> dict[str, Any]:
    return ok(services.users.export(session, principal, external_user_id))


@router.delete(
    "/{external_user_id}",
    summary="Destroy the end-user's key, then their rows",
    response_model=Envelope[EndUserDeletedOut],
)
def delete_user(external_user_id: EndUserRef, principal: TenantPrincipal, services: ServicesDep) -> dict[str, Any]:
    # Two transactions of its own (EndUserService.delete): the key is destroyed and committed first.
    public_id, own_id = services.users.delete(principal, external_user_id)
    return ok(EndUserDeletedOut(deleted=True, user_id=public_id, external_user_id=own_id))
