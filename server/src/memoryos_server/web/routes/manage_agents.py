"""Permission center: the agents a person approved, and the organisations they connected."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from memoryos_server.errors import ValidationFailed
from memoryos_server.web.deps import CheckedForm, ServicesDep, SignedIn, SiteDep, field, fields
from memoryos_server.web.errors import WebRoute
from memoryos_server.web.routes._manage import render_tab
from memoryos_server.web.routes.consent import duration_days
from memoryos_server.web.templating import Flash

router = APIRouter(route_class=WebRoute, include_in_schema=False)

Id = Annotated[str, Path(max_length=64)]
KEEP_EXPIRY = "keep"


@router.get("/manage")
def manage_home(request: Request, site: SiteDep, caller: SignedIn) -> Response:
    return site.redirect(request, "/manage/agents")


@router.get("/manage/agents")
def agents_tab(request: Request, site: SiteDep, services: ServicesDep, caller: SignedIn) -> Response:
    with services.runtime.db.session(write=False) as session:
        user = services.passport.user(session, caller.user_id)
        grants = services.grants.list(session, user)
        # Active first, then expired, then revoked; newest change first within each.
        order = {"active": 0, "expired": 1, "revoked": 2}
        grants.sort(key=lambda view: (order.get(view.status, 3), -(view.grant.updated_at or view.grant.created_at).timestamp()))
        return render_tab(site, request, services, session, user, tab="agents", template="manage/agents.html", context={"grants": grants})


@router.post("/manage/agents/{grant_id}/edit")
def edit_grant(grant_id: Id, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, caller: SignedIn) -> Response:
    changes: dict[str, Any] = {
        "categories": fields(form, "categories"),
        "access_type": field(form, "access_type", max_length=16) or None,
    }
    duration = field(form, "duration", max_length=16) or KEEP_EXPIRY
    if duration != KEEP_EXPIRY:
        days = duration_days(duration)
        if days is None:
            changes["expires_at"] = None  # until revoked
        else:
            changes["duration_days"] = days
    try:
        with services.runtime.db.session() as session:
            user = services.passport.user(session, caller.user_id)
            view = services.grants.update(session, user, grant_id, **changes)
    except ValidationFailed as error:
        text = str(error)
        return site.redirect(request, "/manage/agents", Flash("error", f"Nothing was changed: {text}."))
    return site.redirect(request, "/manage/agents", Flash("ok", f"Saved. {view.agent.name}'s access is updated."))


@router.post("/manage/agents/{grant_id}/revoke")
def revoke_grant(grant_id: Id, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, caller: SignedIn) -> Response:
    with services.runtime.db.session() as session:
        user = services.passport.user(session, caller.user_id)
        view = services.grants.revoke(session, user, grant_id)
    text = f"{view.agent.name} can no longer use your Memory Passport. Its next request gets nothing."
    return site.redirect(request, "/manage/agents", Flash("ok", text))


@router.post("/manage/agents/{grant_id}/code")
def new_code(grant_id: Id, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, caller: SignedIn) -> Response:
    with services.runtime.db.session() as session:
        user = services.passport.user(session, caller.user_id)
        view, code = services.grants.issue_code(session, user, grant_id)
    minutes = max(1, code.expires_in_seconds // 60)
    text = f"Your one-time code for {view.agent.name}. Give it to the app within {minutes} minutes; it works once."
    return site.redirect(request, "/manage/agents", Flash("ok", text, code=code.code))


@router.get("/manage/connections")
def connections_tab(request: Request, site: SiteDep, services: ServicesDep, caller: SignedIn) -> Response:
    with services.runtime.db.session(write=False) as session:
        user = services.passport.user(session, caller.user_id)
        connections = services.connections.list(session, user)
        return render_tab(
            site, request, services, session, user, tab="connections", template="manage/connections.html", context={"connections": connections}
        )


@router.post("/manage/connections/{connection_id}/delete")
def disconnect(connection_id: Id, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, caller: SignedIn) -> Response:
    with services.runtime.db.session() as session:
        user = services.passport.user(session, caller.user_id)
        named = {view.id: view.organisation_name for view in services.connections.list(session, user)}
        services.connections.delete(session, user, connection_id)
    organisation = named.get(connection_id) or "The organisation"
    return site.redirect(request, "/manage/connections", Flash("ok", f"Disconnected. {organisation} is no longer linked to your passport."))
