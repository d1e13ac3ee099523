"""The passport user's memories, Pending Questions and export (the permission center's data)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from memoryos_server.api.deps import PassportUser, RuntimeDep, ServicesDep
from memoryos_server.api.envelope import ok, page
from memoryos_server.api.routing import AuthenticatedRoute
from memoryos_server.api.schemas.memory import Category, answer_read, memory_read, review_read, version_read
from memoryos_server.api.schemas.passport import CorrectionIn, QuestionAnswerIn, export_read

router = APIRouter(
    prefix="/v1/uui/me", tags=["memory passport: the passport user's memories"], route_class=AuthenticatedRoute
)

QuestionId = Annotated[str, Path(max_length=64)]


@router.get("/memories", summary="My memories, by category")
def list_memories(
    caller: PassportUser,
    runtime: RuntimeDep,
    services: ServicesDep,
    category: Annotated[Category | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    sort: Annotated[Literal["newest", "oldest", "importance"], Query()] = "newest",
) -> dict[str, Any]:
    with runtime.db.session(write=False) as session:
        user = services.passport.user(session, caller.user_id)
        result = services.passport_memory.list(
            session, user, categories=[category] if category else None, cursor=cursor, limit=limit, sort=sort
        )
    return page([memory_read(m) for m in result.items], next_cursor=result.next_cursor, limit=limit, total=result.total)


@router.get("/memories/{memory_id}", summary="One of my memories")
def get_memory(memory_id: uuid.UUID, caller: PassportUser, runtime: RuntimeDep, services: ServicesDep) -> dict[str, Any]:
    with runtime.db.session(write=False) as session:
        user = services.passport.user(session, caller.user_id)
        data = memory_read(services.passport_memory.get(session, user, str(memory_id)))
    return ok(data)


@router.get("/memories/{memory_id}/history", summary="Every version of one of my memories")
def memory_history(memory_id: uuid.UUID, caller: PassportUser, runtime: RuntimeDep, services: ServicesDep) -> dict[str, Any]:
    with runtime.db.session(write=False) as session:
        user = services.passport.user(session, caller.user_id)
        versions = services.passport_memory.history(session, user, str(memory_id))
        authors = services.passport_memory.authors(session, versions)
    return ok([{**version_read(v), "actor_name": authors.get(v.actor or "")} for v in versions], memory_id=str(memory_id))


@router.post("/memories/{memory_id}/flag", summary="Flag a memory as wrong or unwanted")
def flag(memory_id: uuid.UUID, caller: PassportUser, runtime: RuntimeDep, services: ServicesDep) -> dict[str, Any]:
    return _flag(memory_id, caller, runtime, services, flagged=True)


@router.delete("/memories/{memory_id}/flag", summary="Remove my flag")
def unflag(memory_id: uuid.UUID, caller: PassportUser, runtime: RuntimeDep, services: ServicesDep) -> dict[str, Any]:
    return _flag(memory_id, caller, runtime, services, flagged=False)


def _flag(memory_id: uuid.UUID, caller: PassportUser, runtime: RuntimeDep, services: ServicesDep, *, flagged: bool) -> dict[str, Any]:
    with runtime.db.session() as session:
        user = services.passport.user(session, caller.user_id)
        data = memory_read(services.passport_memory.flag(session, user, str(memory_id), flagged=flagged))
    return ok(data)


@router.post("/memories/{memory_id}/correct", summary="Correct a memory (the old text stays in its history)")
def correct(
    memory_id: uuid.UUID, body: CorrectionIn, caller: PassportUser, runtime: RuntimeDep, services: ServicesDep
) -> dict[str, Any]:
    with runtime.db.session() as session:
        user = services.passport.user(session, caller.user_id)
        view = services.passport_memory.correct(session, user, str(memory_id), corrected_content=body.corrected_content)
        data = memory_read(view)
    return ok(data)


@router.delete("/memories/{memory_id}", summary="Delete a memory for good, with its history")
def delete_memory(memory_id: uuid.UUID, caller: PassportUser, runtime: RuntimeDep, services: ServicesDep) -> dict[str, Any]:
    with runtime.db.session() as session:
        user = services.passport.user(session, caller.user_id)
        services.passport_memory.delete(session, user, str(memory_id))
    return ok({"deleted": True, "id": str(memory_id)})


@router.get("/clarifications", summary="Pending Questions: my memories that contradict each other")
def list_questions(
    caller: PassportUser,
    runtime: RuntimeDep,
    services: ServicesDep,
    status: Annotated[Literal["open", "resolved", "all"], Query()] = "open",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    with runtime.db.session(write=False) as session:
        user = services.passport.user(session, caller.user_id)
        result = services.passport_memory.questions(
            session, user, status=None if status == "all" else status, cursor=cursor, limit=limit
        )
    return page([review_read(q) for q in result.items], next_cursor=result.next_cursor, limit=limit, total=result.total)


@router.post("/clarifications/{question_id}/answer", summary="Answer a Pending Question: A, B, both or neither")
def answer_question(
    question_id: QuestionId, body: QuestionAnswerIn, caller: PassportUser, runtime: RuntimeDep, services: ServicesDep
) -> dict[str, Any]:
    with runtime.db.session() as session:
        user = services.passport.user(session, caller.user_id)
        data = answer_read(services.passport_memory.answer(session, user, question_id, answer=body.answer))
    return ok(data)


@router.get("/export", summary="Everything my passport holds, as JSON", response_model=None)
def export(caller: PassportUser, runtime: RuntimeDep, services: ServicesDep) -> JSONResponse:
    with runtime.db.session(write=False) as session:
        user = services.passport.user(session, caller.user_id)
        data = export_read(services.passport_memory.export(session, user))
    # A download when a browser follows the permission center's Export link; plain JSON to clients.
    return JSONResponse(
        ok(data), headers={"Content-Disposition": 'attachment; filename="memory-passport-export.json"'}
    )
