"""The passport user's memories, Pending Questions and export (the permission center's data)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from memoryos_server.api.deps import PassportUser, ReadSession, ServicesDep
from memoryos_server.api.envelope import Envelope, Paged, ok, page
from memoryos_server.api.memory_routes import (
    AnswerRoute,
    BrowseRoutes,
    DeleteRoute,
    MemoryMount,
    Need,
    memory_router,
    scope_dependency,
)
from memoryos_server.api.routing import AuthenticatedRoute
from memoryos_server.api.schemas.memory import ReviewOut
from memoryos_server.api.schemas.passport import CorrectionIn, PassportExportOut, QuestionAnswerIn
from memoryos_server.services.container import Services
from memoryos_server.services.memory.scope import MemoryScope
from memoryos_server.services.passport.service import PassportCaller

TAGS = ["memory passport: the passport user's memories"]


def own_scope(session: Session, services: Services, caller: PassportCaller, need: Need, named: str | None) -> MemoryScope:
    return services.passport_scopes.passport_user(caller.user)


MY_MEMORIES = MemoryMount(prefix="/v1/uui/me/memories", tags=list(TAGS), caller=PassportUser, resolve=own_scope)
MY_QUESTIONS = replace(MY_MEMORIES, prefix="/v1/uui/me/clarifications")

memories_router = memory_router(
    MY_MEMORIES,
    browse=BrowseRoutes("my memories", sortable=True),
    flag=True,
    correct=CorrectionIn,
    delete=DeleteRoute("Delete a memory for good, with its history", always_hard=True),
)

questions_router = memory_router(
    MY_QUESTIONS,
    answer=AnswerRoute(
        "/{question_id}/answer", "question_id", QuestionAnswerIn, "Answer a Pending Question: A, B, both or neither"
    ),
)
QuestionReader = scope_dependency(MY_QUESTIONS, Need.READ)


@questions_router.get("", summary="Pending Questions: my memories that contradict each other", response_model=Paged[ReviewOut])
def list_questions(
    scope: QuestionReader,  # type: ignore[valid-type]
    session: ReadSession,
    services: ServicesDep,
    status: Annotated[Literal["open", "resolved", "all"], Query()] = "open",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    result = services.memory.questions(session, scope, status=None if status == "all" else status, cursor=cursor, limit=limit)
    return page([ReviewOut.of(q) for q in result.items], next_cursor=result.next_cursor, limit=limit, total=result.total)


router = APIRouter(prefix="/v1/uui/me", tags=list(TAGS), route_class=AuthenticatedRoute)


@router.get("/export", summary="Everything my passport holds, as JSON", response_model=Envelope[PassportExportOut])
def export(caller: PassportUser, session: ReadSession, services: ServicesDep, response: Response) -> dict[str, Any]:
    # A download when a browser follows the permission center's Export link; plain JSON to clients.
    response.headers["Content-Disposition"] = 'attachment; filename="memory-passport-export.json"'
    return ok(PassportExportOut.of(services.passport.export(session, caller.user)))
