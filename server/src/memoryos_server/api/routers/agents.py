"""Global agents (Memory Passport, tenant side) and their public profile."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from memoryos_server.api.deps import ReadSession, ServicesDep, TenantPrincipal, WriteSession
from memoryos_server.api.envelope import Envelope, Paged, ok, page
from memoryos_server.api.routing import AuthenticatedRoute
from memoryos_server.api.schemas.memory import DeletedOut
from memoryos_server.api.schemas.passport import (
    AgentCreate,
    AgentOut,
    AgentPublicOut,
    AgentUpdate,
    NewAgentKeyOut,
)
from memoryos_server.services.passport.agents import AgentChanges

router = APIRouter(prefix="/v1/agents", tags=["memory passport: agents"], route_class=AuthenticatedRoute)


@router.post(
    "/global",
    status_code=201,
    summary="Register a global agent (its key is shown once)",
    response_model=Envelope[NewAgentKeyOut],
)
def create_agent(body: AgentCreate, principal: TenantPrincipal, session: WriteSession, services: ServicesDep) -> dict[str, Any]:
    saved = services.agents.create(
        session,
        principal,
        name=body.name,
        redirect_uris=body.all_redirect_uris(),
        description=body.description,
        website_url=body.website_url,
        logo_url=body.logo_url,
        default_categories=list(body.default_categories_requested),
    )
    assert saved.raw_key is not None
    fields = AgentOut.fields_of(saved.agent, principal.tenant_public_id)
    return ok(NewAgentKeyOut(**fields, raw_agent_api_key=saved.raw_key, logo_problem=saved.logo_problem))


@router.get("/global", summary="This organisation's agents", response_model=Paged[AgentOut])
def list_agents(principal: TenantPrincipal, session: ReadSession, services: ServicesDep) -> dict[str, Any]:
    items = [AgentOut.of(agent, principal.tenant_public_id) for agent in services.agents.list_own(session, principal)]
    return page(items, next_cursor=None, limit=len(items), total=len(items))


@router.get(
    "/global/{agent_id}",
    summary="An agent's public profile (public: no credentials)",
    response_model=Envelope[AgentPublicOut],
    openapi_extra={"security": []},
)
def public_profile(agent_id: str, session: ReadSession, services: ServicesDep) -> dict[str, Any]:
    return ok(AgentPublicOut.of(services.agents.public_profile(session, agent_id)))


@router.patch(
    "/global/{agent_id}",
    summary="Change an agent's profile (name, URLs or logo send it back to review)",
    response_model=Envelope[AgentOut],
)
def update_agent(
    agent_id: str, body: AgentUpdate, principal: TenantPrincipal, session: WriteSession, services: ServicesDep
) -> dict[str, Any]:
    given = body.model_fields_set
    values: dict[str, Any] = {
        name: getattr(body, name)
        for name in ("name", "description", "website_url", "logo_url", "is_active")
        if name in given
    }
    if "redirect_uri" in given or "redirect_uris" in given:
        values["redirect_uris"] = [u for u in [body.redirect_uri or "", *(body.redirect_uris or [])] if u]
    if "default_categories_requested" in given:
        values["default_categories"] = list(body.default_categories_requested or [])
    saved = services.agents.update(session, principal, agent_id, AgentChanges(**values))
    return ok(AgentOut(**AgentOut.fields_of(saved.agent, principal.tenant_public_id), logo_problem=saved.logo_problem))


@router.post(
    "/global/{agent_id}/rotate-key",
    summary="Replace the agent's key; the old one fails at once",
    response_model=Envelope[NewAgentKeyOut],
)
def rotate_key(agent_id: str, principal: TenantPrincipal, session: WriteSession, services: ServicesDep) -> dict[str, Any]:
    agent, raw_key = services.agents.rotate_key(session, principal, agent_id)
    return ok(NewAgentKeyOut(**AgentOut.fields_of(agent, principal.tenant_public_id), raw_agent_api_key=raw_key))


@router.delete(
    "/global/{agent_id}",
    summary="Delete an agent: its key, grants and UUIs stop working",
    response_model=Envelope[DeletedOut],
)
def delete_agent(agent_id: str, principal: TenantPrincipal, session: WriteSession, services: ServicesDep) -> dict[str, Any]:
    agent = services.agents.delete(session, principal, agent_id)
    return ok(DeletedOut(deleted=True, id=agent.id))
