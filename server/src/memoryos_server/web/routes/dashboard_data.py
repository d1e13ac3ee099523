"""The dashboard's End-users and Review queue: ``EndUserService`` as ``/v1/users`` uses it, and
the tenant review scope as ``/v1/tenant/reviews`` uses it. Reading an end-user's memories,
exporting and deleting follow the role table (``users.export``, ``users.delete``)."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request, Response

from memoryos_server.engine.types import ChatMessage
from memoryos_server.services.permissions import Permission
from memoryos_server.web.deps import CheckedForm, ReadSession, ServicesDep, SiteDep, WriteSession, field
from memoryos_server.web.routes._dashboard import DashboardRoute, Member, confirmed, render_page
from memoryos_server.web.templating import Flash, secure_headers

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)

USERS = "/dashboard/users"
REVIEWS = "/dashboard/reviews"
PAGE_SIZE = 50


@router.get("/dashboard/users")
def users_page(
    request: Request, site: SiteDep, services: ServicesDep, principal: Member, session: ReadSession, cursor: str | None = None
) -> Response:
    items, next_id, total = services.users.list(session, principal, cursor=cursor, limit=PAGE_SIZE)
    return render_page(
        site, request, services, session, principal, tab="users", template="dashboard/users.html",
        context={"users": items, "next_cursor": str(next_id) if next_id else None, "total": total},
    )


@router.get("/dashboard/users/{user_ref}")
def user_page(user_ref: str, request: Request, site: SiteDep, services: ServicesDep, principal: Member, session: ReadSession) -> Response:
    summary = services.users.get(session, principal, user_ref)
    # An end-user's memories are read only by roles that may export them (SPEC §4's table).
    memories = services.users.export(session, principal, summary.public_id)["memories"] if principal.may(Permission.USERS_EXPORT) else None
    return render_page(
        site, request, services, session, principal, tab="users", template="dashboard/user.html",
        context={"user": summary, "memories": memories},
    )


@router.get("/dashboard/users/{user_ref}/export")
def export_user(user_ref: str, services: ServicesDep, principal: Member, session: ReadSession) -> Response:
    exported = services.users.export(session, principal, user_ref)
    response = Response(
        json.dumps(exported, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="memoryos-{exported["proxy_user_id"]}.json"'},
    )
    secure_headers(response)
    return response


@router.get("/dashboard/users/{user_ref}/delete")
def confirm_delete_user(user_ref: str, request: Request, site: SiteDep, services: ServicesDep, principal: Member, session: ReadSession) -> Response:
    principal.require(Permission.USERS_DELETE)
    summary = services.users.get(session, principal, user_ref)
    lines = [
        f"Their key is destroyed first, then their {summary.memory_count} memories and every version of them.",
        "This cannot be undone. Your organisation's audit trail records the erasure.",
    ]
    return render_page(
        site, request, services, session, principal, tab="users", template="dashboard/confirm.html",
        context={
            "title": f"Delete end-user {summary.external_user_id or summary.public_id}?",
            "lines": lines,
            "action": f"{USERS}/{summary.public_id}/delete",
            "button": "Delete end-user",
            "cancel": f"{USERS}/{summary.public_id}",
        },
    )


@router.post("/dashboard/users/{user_ref}/delete")
def delete_user(user_ref: str, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, principal: Member) -> Response:
    if not confirmed(form.get("confirm")):
        return site.redirect(request, f"{USERS}/{user_ref}/delete")
    # Two transactions of the service's own: the key is destroyed and committed first.
    _public_id, own_id = services.users.delete(principal, user_ref)
    return site.redirect(request, USERS, Flash("ok", f"End-user {own_id or user_ref} is deleted: their key and memories are gone."))


# --- the review queue -----------------------------------------------------------------------------


@router.get("/dashboard/reviews")
def reviews_page(
    request: Request, site: SiteDep, services: ServicesDep, principal: Member, session: ReadSession, show: str | None = None
) -> Response:
    answered = show == "answered"
    scope = services.scopes.reviews(session, principal, Permission.REVIEWS_READ)
    result = services.memory.questions(session, scope, status="resolved" if answered else "open", limit=100)
    return render_page(
        site, request, services, session, principal, tab="reviews", template="dashboard/reviews.html",
        context={"reviews": result.items, "answered": answered, "total": result.total},
    )


@router.post("/dashboard/reviews/{review_id}/answer")
def answer_review(
    review_id: str, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, principal: Member, session: WriteSession
) -> Response:
    answer = field(form, "answer", max_length=10)
    scope = services.scopes.reviews(session, principal, Permission.REVIEWS_ANSWER)
    services.memory.answer(session, scope, review_id, answer=answer)
    return site.redirect(request, REVIEWS, Flash("ok", "Answered. The memories are settled as you said."))


# --- the playground -------------------------------------------------------------------------------
# The signed-in member is the test end-user, as for ``/v1/memories`` called with their dashboard
# JWT: their own memories in this organisation, apart from every end-user's and every other
# member's.

PLAYGROUND = "/dashboard/playground"


@router.get("/dashboard/playground")
def playground(
    request: Request, site: SiteDep, services: ServicesDep, principal: Member, session: ReadSession, query: str | None = None
) -> Response:
    # The scope is resolved even without a query: it is what says whether this member may read.
    scope = services.scopes.end_user(session, principal, None, permission=Permission.MEMORY_READ)
    outcome = services.memory.retrieve(session, scope, query=query.strip(), limit=10) if query and query.strip() else None
    return render_page(
        site, request, services, session, principal, tab="playground", template="dashboard/playground.html",
        context={"query": query or "", "outcome": outcome},
    )


@router.post("/dashboard/playground/add")
def playground_add(
    request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, principal: Member, session: WriteSession
) -> Response:
    text = field(form, "message", max_length=8000)
    if not text:
        return site.redirect(request, PLAYGROUND, Flash("warning", "Write a message first."))
    scope = services.scopes.end_user(session, principal, None, permission=Permission.MEMORY_WRITE, create=True)
    outcome = services.memory.add(session, scope, messages=[ChatMessage(role="user", content=text)])
    if outcome.status == "queued":
        note = "Queued for extraction: the memories appear once the job has run."
    elif outcome.results:
        note = "Remembered: " + "; ".join(f"{r.memory} ({r.category}, {r.event})" for r in outcome.results)
    else:
        note = "Nothing to remember in that message."
    return site.redirect(request, PLAYGROUND, Flash("ok", note[:1500]))
