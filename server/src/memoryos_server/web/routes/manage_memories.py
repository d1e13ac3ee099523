"""Permission center: the person's memories (by category) and their Pending Questions."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from memoryos_server.engine.types import CATEGORIES
from memoryos_server.errors import BadRequest
from memoryos_server.web.deps import CheckedForm, ReadSession, ServicesDep, SignedIn, SiteDep, WriteSession, field
from memoryos_server.web.errors import WebRoute
from memoryos_server.web.routes._manage import back_to, render_tab
from memoryos_server.web.templating import Flash

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PAGE_SIZE = 50
MemoryId = Annotated[uuid.UUID, Path()]
QuestionId = Annotated[str, Path(max_length=64)]

ANSWER_RESULTS = {
    "A": "Kept the first version; the other one is archived.",
    "B": "Kept the second version; the other one is archived.",
    "both": "Both versions stay, as correct.",
    "neither": "Closed. Neither version is treated as confirmed.",
}


@router.get("/manage/memories")
def memories_tab(
    request: Request,
    site: SiteDep,
    services: ServicesDep,
    caller: SignedIn,
    session: ReadSession,
    category: Annotated[str | None, Query(max_length=32)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    if category and category not in CATEGORIES:
        raise BadRequest("invalid_category", f"there is no category called {category!r}")
    page = services.memory.list(session, services.passport_scopes.passport_user(caller.user), categories=[category] if category else None, cursor=cursor, limit=PAGE_SIZE)
    groups = [(name, [m for m in page.items if m.category == name]) for name in CATEGORIES]
    context = {
        "category": category,
        "groups": [(name, items) for name, items in groups if items],
        "total": page.total,
        "next_cursor": page.next_cursor,
        "back": request.url.path + (f"?category={category}" if category else ""),
    }
    return render_tab(site, request, services, session, caller, tab="memories", template="manage/memories.html", context=context)


@router.get("/manage/memories/{memory_id}/history")
def memory_history(memory_id: MemoryId, request: Request, site: SiteDep, services: ServicesDep, caller: SignedIn, session: ReadSession) -> Response:
    scope = services.passport_scopes.passport_user(caller.user)
    memory = services.memory.get(session, scope, str(memory_id))
    versions = services.memory.history(session, scope, str(memory_id))
    context = {"memory": memory, "versions": list(reversed(versions)), "authors": {v.actor: v.actor_name for v in versions if v.actor_name}}
    return render_tab(site, request, services, session, caller, tab="memories", template="manage/history.html", context=context)


@router.post("/manage/memories/{memory_id}/correct")
def correct_memory(memory_id: MemoryId, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, caller: SignedIn, session: WriteSession) -> Response:
    text = field(form, "corrected_content", max_length=16_000)
    back = back_to(field(form, "back"), "/manage/memories")
    prepared = services.memory.prepare_text(text)  # before the write transaction, which waits for nothing
    try:
        with session.begin_nested():  # a refused correction leaves nothing behind
            scope = services.passport_scopes.passport_user(caller.user)
            services.memory.correct(session, scope, str(memory_id), corrected_content=text, prepared=prepared)
    except BadRequest:
        return site.redirect(request, back, Flash("error", "A correction needs some text. Nothing was changed."))
    return site.redirect(request, back, Flash("ok", "Corrected. Agents see the new text from now on; the old one stays in the history."))


@router.post("/manage/memories/{memory_id}/flag")
def flag_memory(memory_id: MemoryId, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, caller: SignedIn, session: WriteSession) -> Response:
    flagged = field(form, "flagged", max_length=1) == "1"
    back = back_to(field(form, "back"), "/manage/memories")
    services.memory.flag(session, services.passport_scopes.passport_user(caller.user), str(memory_id), flagged=flagged)
    return site.redirect(request, back, Flash("ok", "Flagged as wrong or unwanted: no agent receives it until you remove the flag." if flagged else "Flag removed: agents you allowed may receive it again."))


@router.post("/manage/memories/{memory_id}/delete")
def delete_memory(memory_id: MemoryId, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, caller: SignedIn, session: WriteSession) -> Response:
    back = back_to(field(form, "back"), "/manage/memories")
    services.memory.delete(session, services.passport_scopes.passport_user(caller.user), str(memory_id), hard=True)
    return site.redirect(request, back, Flash("ok", "Deleted for good, with its history."))


@router.get("/manage/questions")
def questions_tab(
    request: Request,
    site: SiteDep,
    services: ServicesDep,
    caller: SignedIn,
    session: ReadSession,
    show: Annotated[str | None, Query(max_length=16)] = None,
) -> Response:
    answered = show == "answered"
    page = services.memory.questions(session, services.passport_scopes.passport_user(caller.user), status="resolved" if answered else "open", limit=100)
    context = {"questions": page.items, "answered": answered, "total": page.total}
    return render_tab(site, request, services, session, caller, tab="questions", template="manage/questions.html", context=context)


@router.post("/manage/questions/{question_id}/answer")
def answer_question(question_id: QuestionId, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, caller: SignedIn, session: WriteSession) -> Response:
    answer = field(form, "answer", max_length=16)
    outcome = services.memory.answer(session, services.passport_scopes.passport_user(caller.user), question_id, answer=answer)
    return site.redirect(request, "/manage/questions", Flash("ok", f"Thanks! {ANSWER_RESULTS[outcome.resolution]}"))
