"""Memory Passport connectors, tenant side: one-time secure links for a signed-in customer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from memoryos_server.api.deps import ServicesDep, TenantPrincipal, WriteSession
from memoryos_server.api.envelope import Envelope, ok
from memoryos_server.api.routing import AuthenticatedRoute
from memoryos_server.api.schemas.passport import LinkTokenIn, LinkTokenOut

router = APIRouter(
    prefix="/v1/tenant/memory-passport", tags=["memory passport: connectors"], route_class=AuthenticatedRoute
)


@router.post(
    "/link-token",
    summary="A one-time link connecting one of your accounts to a passport (15 minutes)",
    response_model=Envelope[LinkTokenOut],
)
def create_link_token(body: LinkTokenIn, principal: TenantPrincipal, session: WriteSession, services: ServicesDep) -> dict[str, Any]:
    issued = services.connections.create_link_token(
        session, principal, agent_id=body.agent_id, external_user_id=body.external_user_id
    )
    return ok(LinkTokenOut(link_token=issued.link_token, expires_in_seconds=issued.expires_in_seconds))
