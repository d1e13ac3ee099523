"""Permission center: the activity trail, the export, and deleting the whole passport."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from memoryos_server.web.deps import CheckedForm, ReadSession, ServicesDep, SignedIn, SiteDep, WriteSession, field
from memoryos_server.web.errors import WebRoute
from memoryos_server.web.routes._manage import render_tab
from memoryos_server.web.templating import Flash, category_label

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PAGE_SIZE = 50
CONFIRM_WORD = "DELETE"


@router.get("/manage/activity")
def activity_tab(
    request: Request,
    site: SiteDep,
    services: ServicesDep,
    caller: SignedIn,
    session: ReadSession,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    user = caller.user
    lines, next_cursor, total = services.activity.timeline(session, user, cursor=cursor, limit=PAGE_SIZE)
    rows = [
        {
            "when": line.last.created_at,
            "since": line.first.created_at if line.count > 1 else None,
            "who": line.who,
            "what": line.what,
            "categories": [category_label(name) for name in line.categories],
        }
        for line in lines
    ]
    context = {"rows": rows, "next_cursor": next_cursor, "total": total}
    return render_tab(site, request, services, session, caller, tab="activity", template="manage/activity.html", context=context)


@router.get("/manage/export")
def export_tab(request: Request, site: SiteDep, services: ServicesDep, caller: SignedIn, session: ReadSession) -> Response:
    return render_tab(site, request, services, session, caller, tab="export", template="manage/export.html", context={})


@router.get("/manage/delete")
def delete_tab(request: Request, site: SiteDep, services: ServicesDep, caller: SignedIn, session: ReadSession) -> Response:
    user = caller.user
    context = {
        "memories": services.memory.list(session, services.passport_scopes.passport_user(user), limit=1).total,
        "grants": sum(1 for view in services.grants.list(session, user) if view.status == "active"),
        "connections": len(services.connections.list(session, user)),
        "confirm_word": CONFIRM_WORD,
    }
    return render_tab(site, request, services, session, caller, tab="delete", template="manage/delete.html", context=context)


@router.post("/manage/delete")
def delete_passport(request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, caller: SignedIn) -> Response:
    if field(form, "confirm", max_length=32) != CONFIRM_WORD:
        return site.redirect(request, "/manage/delete", Flash("error", f"Type {CONFIRM_WORD} in capitals to confirm. Nothing was deleted."))
    services.passport.delete(caller.user)
    response = site.redirect(
        request, "/login", Flash("ok", "Your Memory Passport is deleted: its memories, agents' access, connections and key are gone.")
    )
    site.end_session(response)
    return response
