"""Tenant memory: an end-user's memories (SPEC §5 "Tenant memory").

The end-user is ``X-End-User-ID``, else the body's or query's ``external_user_id`` (what the
published SDK sends); a JWT caller is their own end-user.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import Response

from memoryos_server.api.deps import EndUserHeader, RuntimeDep, ServicesDep, TenantPrincipal
from memoryos_server.api.envelope import ok, page
from memoryos_server.api.routing import AuthenticatedRoute
from memoryos_server.api.schemas.memory import (
    AddIn,
    Category,
    ClarificationAnswerIn,
    MemoryPatch,
    RetrieveIn,
    add_body,
    answer_read,
    job_read,
    memory_read,
    retrieve_fields,
    version_read,
)

router = APIRouter(prefix="/v1/memories", tags=["memories"], route_class=AuthenticatedRoute)

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", max_length=255, description="A repeat within 24 h returns the first answer."),
]
ExternalUserQuery = Annotated[str | None, Query(min_length=1, max_length=255)]
JSON = "application/json"


@router.post("/add", summary="Extract memories from messages and store them")
def add(
    body: AddIn,
    principal: TenantPrincipal,
    runtime: RuntimeDep,
    services: ServicesDep,
    x_end_user_id: EndUserHeader = None,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    with runtime.db.session() as session:
        content, _replayed = services.tenant_memory.add(
            session,
            principal,
            end_user=(x_end_user_id, body.external_user_id),
            messages=body.chat_messages(),
            render=add_body,
            idempotency_key=idempotency_key,
            infer=body.infer,
            category=body.category,
            metadata=body.metadata,
            source=body.source,
            conversation_id=body.conversation_id,
            agent_id=body.agent_id,
        )
    return Response(content, media_type=JSON)


@router.get("/jobs/{job_id}", summary="The state of an extraction job")
def job_status(
    job_id: Annotated[str, Path(max_length=64)],
    principal: TenantPrincipal,
    runtime: RuntimeDep,
    services: ServicesDep,
) -> dict[str, Any]:
    with runtime.db.session(write=False) as session:
        view = services.tenant_memory.job(session, principal, job_id)
    return ok(job_read(view))


@router.post("/retrieve", summary="Hybrid search, with a block to add to the agent's prompt")
def retrieve(
    body: RetrieveIn,
    principal: TenantPrincipal,
    runtime: RuntimeDep,
    services: ServicesDep,
    x_end_user_id: EndUserHeader = None,
) -> dict[str, Any]:
    with runtime.db.session(write=False) as session:
        outcome = services.tenant_memory.retrieve(
            session,
            principal,
            end_user=(x_end_user_id, body.external_user_id),
            query=body.query,
            limit=body.limit,
            categories=body.categories,
            time_filter_days=body.time_filter_days,
            as_of=body.as_of,
            format=body.format,
            context_max_tokens=body.context_max_tokens,
            min_relevance=body.min_relevance,
        )
    return ok(**retrieve_fields(outcome))


@router.get("", summary="The end-user's memories, newest first")
def list_memories(
    principal: TenantPrincipal,
    runtime: RuntimeDep,
    services: ServicesDep,
    x_end_user_id: EndUserHeader = None,
    external_user_id: ExternalUserQuery = None,
    category: Annotated[Category | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    with runtime.db.session(write=False) as session:
        result = services.tenant_memory.list(
            session,
            principal,
            end_user=(x_end_user_id, external_user_id),
            categories=[category] if category else None,
            cursor=cursor,
            limit=limit,
        )
    return page([memory_read(m) for m in result.items], next_cursor=result.next_cursor, limit=limit, total=result.total)


@router.post("/clarifications/{clarification_id}/answer", summary="Answer a clarification the agent asked")
def answer_clarification(
    clarification_id: Annotated[str, Path(max_length=64)],
    body: ClarificationAnswerIn,
    principal: TenantPrincipal,
    runtime: RuntimeDep,
    services: ServicesDep,
    x_end_user_id: EndUserHeader = None,
) -> dict[str, Any]:
    with runtime.db.session() as session:
        outcome = services.tenant_memory.answer_clarification(
            session,
            principal,
            end_user=(x_end_user_id, body.external_user_id),
            clarification_id=clarification_id,
            answer=body.answer,
            free_text=body.free_text,
        )
    return ok(answer_read(outcome))


@router.get("/{memory_id}", summary="One memory")
def get_memory(
    memory_id: uuid.UUID,
    principal: TenantPrincipal,
    runtime: RuntimeDep,
    services: ServicesDep,
    x_end_user_id: EndUserHeader = None,
    external_user_id: ExternalUserQuery = None,
) -> dict[str, Any]:
    with runtime.db.session(write=False) as session:
        view = services.tenant_memory.get(
            session, principal, end_user=(x_end_user_id, external_user_id), memory_id=str(memory_id)
        )
    return ok(memory_read(view))


@router.patch("/{memory_id}", summary="Edit a memory (a version is kept)")
def update_memory(
    memory_id: uuid.UUID,
    body: MemoryPatch,
    principal: TenantPrincipal,
    runtime: RuntimeDep,
    services: ServicesDep,
    x_end_user_id: EndUserHeader = None,
    external_user_id: ExternalUserQuery = None,
) -> dict[str, Any]:
    with runtime.db.session() as session:
        view = services.tenant_memory.update(
            session,
            principal,
            end_user=(x_end_user_id, body.external_user_id or external_user_id),
            memory_id=str(memory_id),
            **body.changes(),
        )
    return ok(memory_read(view))


@router.delete("/{memory_id}", summary="Delete a memory: soft by default, or for good")
def delete_memory(
    memory_id: uuid.UUID,
    principal: TenantPrincipal,
    runtime: RuntimeDep,
    services: ServicesDep,
    x_end_user_id: EndUserHeader = None,
    external_user_id: ExternalUserQuery = None,
    hard_delete: Annotated[bool, Query()] = False,
) -> dict[str, Any]:
    with runtime.db.session() as session:
        deleted = services.tenant_memory.delete(
            session,
            principal,
            end_user=(x_end_user_id, external_user_id),
            memory_id=str(memory_id),
            hard=hard_delete,
        )
    return ok({"deleted": deleted, "id": str(memory_id), "hard_delete": hard_delete})


@router.get("/{memory_id}/history", summary="Every version of a memory, oldest first")
def memory_history(
    memory_id: uuid.UUID,
    principal: TenantPrincipal,
    runtime: RuntimeDep,
    services: ServicesDep,
    x_end_user_id: EndUserHeader = None,
    external_user_id: ExternalUserQuery = None,
) -> dict[str, Any]:
    with runtime.db.session(write=False) as session:
        versions = services.tenant_memory.history(
            session, principal, end_user=(x_end_user_id, external_user_id), memory_id=str(memory_id)
        )
    return ok([version_read(v) for v in versions], memory_id=str(memory_id))
