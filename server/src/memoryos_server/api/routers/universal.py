"""Memory Passport, agent side: ``Authorization: ApiKey agent_sk_…`` (+ ``X-MemoryOS-UUI``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from memoryos_server.api.deps import AgentForUser, AgentKey, RuntimeDep, ServicesDep
from memoryos_server.api.envelope import ok
from memoryos_server.api.schemas.passport import ExchangeIn, ResolveIn, agent_grant_read, iso

router = APIRouter(prefix="/v1/universal", tags=["memory passport: agents' calls"])


@router.post("/consent/exchange", summary="Trade the one-time consent code for this agent's UUI of the user")
def exchange(body: ExchangeIn, caller: AgentKey, runtime: RuntimeDep, services: ServicesDep) -> dict[str, Any]:
    with runtime.db.session() as session:
        agent, _ = services.universal.load(session, caller)
        exchanged = services.universal.exchange_code(session, agent, body.code)
        grant = exchanged.grant
        data = {
            "uui_token": exchanged.uui_token,
            "grant": {
                "id": grant.id,
                "categories_allowed": list(grant.categories),
                "access_type": grant.access_type,
                "expires_at": iso(grant.expires_at),
            },
        }
    return ok(data)


@router.post("/users/resolve", summary="The UUI of the passport user who connected one of your accounts")
def resolve(body: ResolveIn, caller: AgentKey, runtime: RuntimeDep, services: ServicesDep) -> dict[str, Any]:
    with runtime.db.session() as session:
        agent, _ = services.universal.load(session, caller)
        resolved = services.universal.resolve_user(session, agent, body.external_user_id)
    return ok({"uui_token": resolved.uui_token, "permission_error": resolved.permission_error})


@router.get("/grant", summary="This agent's own grant for this user (null when it never had one)")
def own_grant(caller: AgentForUser, runtime: RuntimeDep, services: ServicesDep) -> dict[str, Any]:
    with runtime.db.session(write=False) as session:
        agent, user = services.universal.load(session, caller)
        assert user is not None
        state = services.universal.grant_state(session, agent, user)
        data = agent_grant_read(state.grant, state.status) if state.grant is not None else None
    return ok(data)
