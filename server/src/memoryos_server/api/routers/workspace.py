"""Workspace memory: tenant-wide memories written by members (not tied to an end-user)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from memoryos_server.api.deps import RuntimeDep, ServicesDep, TenantPrincipal
from memoryos_server.api.envelope import ok, page
from memoryos_server.api.routers.memories import JSON, IdempotencyKey
from memoryos_server.api.routing import AuthenticatedRoute
from memoryos_server.api.schemas.memory import (
    Category,
    MemoryPatch,
    RetrieveIn,
    WorkspaceAddIn,
    add_body,
    memory_read,
    retrieve_fields,
    version_read,
)

router = APIRouter(prefix="/v1/workspace/memories", tags=["workspace"], route_class=AuthenticatedRoute)


@router.post("/add", summary="Add workspace memories (contradictions open tenant reviews)")
def add(
    body: WorkspaceAddIn,
    principal: TenantPrincipal,
    runtime: RuntimeDep,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    with runtime.db.session() as session:
        content, _replayed = services.tenant_memory.workspace_add(
            session,
            principal,
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


@router.post("/retrieve", summary="Search the workspace memories")
def retrieve(
    body: RetrieveIn, principal: TenantPrincipal, runtime: RuntimeDep, services: ServicesDep
) -> dict[str, Any]:
    with runtime.db.session(write=False) as session:
        outcome = services.tenant_memory.workspace_retrieve(
            session,
            principal,
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


@router.get("", summary="Workspace memories, newest first")
def list_memories(
    principal: TenantPrincipal,
    runtime: RuntimeDep,
    services: ServicesDep,
    category: Annotated[Category | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    with runtime.db.session(write=False) as session:
        result = services.tenant_memory.workspace_list(
            session, principal, categories=[category] if category else None, cursor=cursor, limit=limit
        )
    return page([memory_read(m) for m in result.items], next_cursor=result.next_cursor, limit=limit, total=result.total)


@router.get("/{memory_id}", summary="One workspace memory")
def get_memory(
    memory_id: uuid.UUID, principal: TenantPrincipal, runtime: RuntimeDep, services: ServicesDep
) -> dict[str, Any]:
    with runtime.db.session(write=False) as session:
        view = services.tenant_memory.workspace_get(session, principal, str(memory_id))
    return ok(memory_read(view))


@router.patch("/{memory_id}", summary="Edit a workspace memory")
def update_memory(
    memory_id: uuid.UUID, body: MemoryPatch, principal: TenantPrincipal, runtime: RuntimeDep, services: ServicesDep
) -> dict[str, Any]:
    with runtime.db.session() as session:
        view = services.tenant_memory.workspace_update(session, principal, str(memory_id), **body.changes())
    return ok(memory_read(view))


@router.delete("/{memory_id}", summary="Delete a workspace memory")
def delete_memory(
    memory_id: uuid.UUID,
    principal: TenantPrincipal,
    runtime: RuntimeDep,
    services: ServicesDep,
    hard_delete: Annotated[bool, Query()] = False,
) -> dict[str, Any]:
    with runtime.db.session() as session:
        deleted = services.tenant_memory.workspace_delete(session, principal, str(memory_id), hard=hard_delete)
    return ok({"deleted": deleted, "id": str(memory_id), "hard_delete": hard_delete})


@router.get("/{memory_id}/history", summary="Every version of a workspace memory")
def memory_history(
    memory_id: uuid.UUID, principal: TenantPrincipal, runtime: RuntimeDep, services: ServicesDep
) -> dict[str, Any]:
    with runtime.db.session(write=False) as session:
        versions = services.tenant_memory.workspace_history(session, principal, str(memory_id))
    return ok([version_read(v) for v in versions], memory_id=str(memory_id))
