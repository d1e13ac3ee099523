"""Provenance: the tenant's service writers and the source events of their claims (SPEC §5, §7)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from memoryos_server.api.deps import ReadSession, ServicesDep, TenantPrincipal, WriteSession
from memoryos_server.api.envelope import Envelope, Paged, ok, page
from memoryos_server.api.routing import AuthenticatedRoute
from memoryos_server.api.schemas.provenance import (
    ServiceWriterDeletedOut,
    ServiceWriterIn,
    ServiceWriterOut,
    ServiceWriterPatch,
    SourceEventOut,
)

router = APIRouter(prefix="/v1/tenant", tags=["provenance"], route_class=AuthenticatedRoute)

ServiceKeyPath = Annotated[str, Path(max_length=100, description="The writer's service_key")]


@router.post(
    "/service-writers",
    status_code=201,
    summary="Register a service writer: a backend whose adds with source.service are claims about end-users",
    response_model=Envelope[ServiceWriterOut],
)
def create_service_writer(
    body: ServiceWriterIn, principal: TenantPrincipal, session: WriteSession, services: ServicesDep
) -> dict[str, Any]:
    writer = services.provenance.create_writer(
        session,
        principal,
        service_key=body.service_key,
        display_name=body.display_name,
        rules=body.authority_rules.rules(),
        api_key_id=body.api_key_id,
    )
    return ok(ServiceWriterOut.of(writer))


@router.get("/service-writers", summary="The organisation's service writers", response_model=Paged[ServiceWriterOut])
def list_service_writers(principal: TenantPrincipal, session: ReadSession, services: ServicesDep) -> dict[str, Any]:
    items = [ServiceWriterOut.of(w) for w in services.provenance.list_writers(session, principal)]
    return page(items, next_cursor=None, limit=len(items), total=len(items))


@router.get("/service-writers/{service_key}", summary="One service writer", response_model=Envelope[ServiceWriterOut])
def get_service_writer(
    service_key: ServiceKeyPath, principal: TenantPrincipal, session: ReadSession, services: ServicesDep
) -> dict[str, Any]:
    return ok(ServiceWriterOut.of(services.provenance.get_writer(session, principal, service_key)))


@router.patch(
    "/service-writers/{service_key}",
    summary="Change a writer's name, authority rules or bound API key (api_key_id: null unbinds it)",
    response_model=Envelope[ServiceWriterOut],
)
def update_service_writer(
    service_key: ServiceKeyPath,
    body: ServiceWriterPatch,
    principal: TenantPrincipal,
    session: WriteSession,
    services: ServicesDep,
) -> dict[str, Any]:
    writer = services.provenance.update_writer(session, principal, service_key, **body.changes())
    return ok(ServiceWriterOut.of(writer))


@router.delete(
    "/service-writers/{service_key}",
    summary="Remove a writer: its past claims stay; new ones are refused (PROV_404)",
    response_model=Envelope[ServiceWriterDeletedOut],
)
def delete_service_writer(
    service_key: ServiceKeyPath, principal: TenantPrincipal, session: WriteSession, services: ServicesDep
) -> dict[str, Any]:
    services.provenance.delete_writer(session, principal, service_key)
    return ok(ServiceWriterDeletedOut(deleted=True, service_key=service_key))


@router.get(
    "/source-events",
    summary="Source events: every add a service writer made, newest received first",
    response_model=Paged[SourceEventOut],
)
def list_source_events(
    principal: TenantPrincipal,
    session: ReadSession,
    services: ServicesDep,
    external_user_id: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    source_service: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    result = services.provenance.list_events(
        session, principal, external_user_id=external_user_id, service=source_service, cursor=cursor, limit=limit
    )
    return page([SourceEventOut.of(e) for e in result.items], next_cursor=result.next_cursor, limit=limit, total=result.total)
