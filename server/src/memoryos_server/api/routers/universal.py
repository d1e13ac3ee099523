"""Memory Passport, agent side: ``Authorization: ApiKey agent_sk_…`` (+ ``X-MemoryOS-UUI``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse, Response

from memoryos_server.api.deps import AgentForUser, AgentKey, RuntimeDep, ServicesDep
from memoryos_server.api.envelope import ok
from memoryos_server.api.routing import AuthenticatedRoute
from memoryos_server.api.schemas.memory import add_body, retrieved_read
from memoryos_server.api.schemas.passport import (
    ExchangeIn,
    ResolveIn,
    UniversalAddIn,
    UniversalRetrieveIn,
    agent_grant_read,
    iso,
    universal_job_read,
)

router = APIRouter(
    prefix="/v1/universal", tags=["memory passport: agents' calls"], route_class=AuthenticatedRoute
)


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


@router.post("/memories/retrieve", summary="The user's memories in the categories granted to this agent")
def retrieve(body: UniversalRetrieveIn, caller: AgentForUser, runtime: RuntimeDep, services: ServicesDep) -> dict[str, Any]:
    # A write session: every read is an audit event the user sees.
    with runtime.db.session() as session:
        agent, user = services.universal.load(session, caller)
        assert user is not None
        result = services.universal_memory.retrieve(
            session,
            agent,
            user,
            query=body.query,
            limit=body.limit,
            categories=body.categories,
            format=body.format,
            context_max_tokens=body.context_max_tokens,
            min_relevance=body.min_relevance,
        )
    return ok(
        [retrieved_read(memory) for memory in result.memories],
        retrieval_id=result.retrieval_id,
        cached=False,
        system_prompt_addition=result.system_prompt_addition,
        context_token_count=result.context_token_count,
        permission_error=result.permission_error,
        categories_available=result.categories_available,
        is_passthrough=False,
        quota_mode="FULL",
    )


@router.post("/memories/add", summary="Remember from messages, in the categories this agent may write")
def add(body: UniversalAddIn, caller: AgentForUser, runtime: RuntimeDep, services: ServicesDep) -> Response:
    with runtime.db.session() as session:
        agent, user = services.universal.load(session, caller)
        assert user is not None
        content, _replayed = services.universal_memory.add(
            session,
            agent,
            user,
            messages=[message.to_chat() for message in body.messages],
            render=add_body,
            metadata=body.metadata,
            idempotency_key=body.idempotency_key,
        )
    return Response(content, media_type="application/json")


@router.get("/memories/jobs/{job_id}", summary="One of this agent's add jobs (a bare body, no envelope)")
def job_status(
    job_id: Annotated[str, Path(max_length=64)], caller: AgentForUser, runtime: RuntimeDep, services: ServicesDep
) -> JSONResponse:
    with runtime.db.session(write=False) as session:
        agent, user = services.universal.load(session, caller)
        assert user is not None
        view = services.universal_memory.job(session, agent, user, job_id)
    return JSONResponse(universal_job_read(view))
