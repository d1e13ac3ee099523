"""Memory Passport, agent side: ``Authorization: ApiKey agent_sk_…`` (+ ``X-MemoryOS-UUI``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy.orm import Session

from memoryos_server.api.deps import AgentForUser, AgentKey, ReadSession, ServicesDep, WriteSession
from memoryos_server.api.envelope import Envelope, ok
from memoryos_server.api.memory_routes import WRITES, AddRoute, JobRoute, MemoryMount, Need, RetrieveRoute, memory_router
from memoryos_server.api.routing import AuthenticatedRoute
from memoryos_server.api.schemas.passport import (
    AgentGrantOut,
    AgentJobOut,
    AgentRetrieveOut,
    ExchangedGrantOut,
    ExchangedOut,
    ExchangeIn,
    ResolvedOut,
    ResolveIn,
    UniversalAddIn,
    UniversalRetrieveIn,
)
from memoryos_server.services.container import Services
from memoryos_server.services.memory.query_vectors import agent_asker
from memoryos_server.services.memory.scope import MemoryScope
from memoryos_server.services.passport.agent_access import AgentCaller

TAGS = ["memory passport: agents' calls"]
router = APIRouter(prefix="/v1/universal", tags=list(TAGS), route_class=AuthenticatedRoute)


@router.post(
    "/consent/exchange",
    summary="Trade the one-time consent code for this agent's UUI of the user",
    response_model=Envelope[ExchangedOut],
)
def exchange(body: ExchangeIn, caller: AgentKey, session: WriteSession, services: ServicesDep) -> dict[str, Any]:
    exchanged = services.agent_access.exchange_code(session, caller.agent, body.code)
    grant = exchanged.grant
    return ok(
        ExchangedOut(
            uui_token=exchanged.uui_token,
            grant=ExchangedGrantOut(
                id=grant.id,
                categories_allowed=list(grant.categories),
                access_type=grant.access_type,
                expires_at=grant.expires_at,
            ),
        )
    )


@router.post(
    "/users/resolve",
    summary="The UUI of the passport user who connected one of your accounts",
    response_model=Envelope[ResolvedOut],
)
def resolve(body: ResolveIn, caller: AgentKey, session: WriteSession, services: ServicesDep) -> dict[str, Any]:
    resolved = services.agent_access.resolve_user(session, caller.agent, body.external_user_id)
    return ok(ResolvedOut(uui_token=resolved.uui_token, permission_error=resolved.permission_error))


@router.get(
    "/grant",
    summary="This agent's own grant for this user (null when it never had one)",
    response_model=Envelope[AgentGrantOut | None],
)
def own_grant(caller: AgentForUser, session: ReadSession, services: ServicesDep) -> dict[str, Any]:
    assert caller.user is not None
    state = services.agent_access.grant_state(session, caller.agent, caller.user)
    return ok(AgentGrantOut.of(state.grant, state.status) if state.grant is not None else None)


# --- the person's memories, within the grant -----------------------------------------------------


def agent_scope(session: Session, services: Services, caller: AgentCaller, need: Need, named: str | None) -> MemoryScope:
    return services.passport_scopes.agent(session, caller, writes=need in WRITES)


AGENTS = MemoryMount(
    prefix="/v1/universal/memories",
    tags=list(TAGS),
    caller=AgentForUser,
    resolve=agent_scope,
    audited_reads=True,
    asker=lambda caller: agent_asker(caller.agent.id),
)


memories_router = memory_router(
    AGENTS,
    retrieve=RetrieveRoute(
        UniversalRetrieveIn, "The user's memories in the categories granted to this agent", AgentRetrieveOut
    ),
    add=AddRoute(UniversalAddIn, "Remember from messages, in the categories this agent may write", header_key=False),
    job=JobRoute("One of this agent's add jobs (a bare body, no envelope)", AgentJobOut, enveloped=False),
)
