"""Permission center: the agents a person approved, and the organisations they connected."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from memoryos_server.errors import ValidationFailed
from memoryos_server.services.passport.grants import GrantView
from memoryos_server.web.deps import CheckedForm, ReadSession, ServicesDep, SignedIn, SiteDep, WriteSession, field, fields
from memoryos_server.web.errors import WebRoute
from memoryos_server.web.routes._manage import confirmed, render_tab
from memoryos_server.web.routes.consent import KEEP_EXPIRY, duration_days
from memoryos_server.web.templating import Flash

router = APIRouter(route_class=WebRoute, include_in_schema=False)

Id = Annotated[str, Path(max_length=64)]


_STATUS_ORDER = {"active": 0, "expired": 1, "revoked": 2}


def card_order(view: GrantView) -> tuple[int, str, datetime, str]:
    """Active first, then expired, then revoked; by agent name within each, then by when the
    grant was first made. Nothing a person changes on a card moves it (a card that jumps to the
    top after an edit is hard to find again)."""
    return (_STATUS_ORDER.get(view.status, 3), view.agent.name.casefold(), view.grant.created_at, view.grant.id)


@router.get("/manage")
def manage_home(request: Request, site: SiteDep, caller: SignedIn) -> Response:
    return site.redirect(request, "/manage/agents")


@router.get("/manage/agents")
def agents_tab(request: Request, site: SiteDep, services: ServicesDep, caller: SignedIn, session: ReadSession) -> Response:
    grants = sorted(services.grants.list(session, caller.user), key=card_order)
    return render_tab(site, request, services, session, caller, tab="agents", template="manage/agents.html", context={"grants": grants})


@router.post("/manage/agents/{grant_id}/edit")
def edit_grant(
    grant_id: Id, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, caller: SignedIn, session: WriteSession
) -> Response:
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
        with session.begin_nested():  # a refused change leaves nothing behind
            view = services.grants.update(session, caller.user, grant_id, **changes)
    except ValidationFailed as error:
        text = str(error)
        return site.redirect(request, "/manage/agents", Flash("error", f"Nothing was changed: {text}."))
    return site.redirect(request, "/manage/agents", Flash("ok", f"Saved. {view.agent.name}'s access is updated."))


@router.get("/manage/agents/{grant_id}/revoke")
def revoke_grant_confirm(
    grant_id: Id, request: Request, site: SiteDep, services: ServicesDep, caller: SignedIn, session: ReadSession
) -> Response:
    """Revoking asks once: the card's button leads here, and only the form here revokes."""
    view = services.grants.get(session, caller.user, grant_id)
    if view.status == "revoked":
        return site.redirect(request, "/manage/agents", Flash("warning", f"{view.agent.name}'s access was already revoked."))
    name = view.agent.name
    context = {
        "title": f"Revoke {name}'s access?",
        "lines": [
            f"{name} will no longer read{' or add to' if view.grant.access_type == 'read_write' else ''} your Memory Passport. "
            "Its very next request gets nothing.",
            "Your memories stay as they are. To let it in again later, start from the app: it will ask you on a consent screen.",
        ],
        "action": f"/manage/agents/{view.grant.id}/revoke",
        "button": "Revoke access",
        "cancel": f"/manage/agents#grant-{view.grant.id}",
    }
    return render_tab(site, request, services, session, caller, tab="agents", template="manage/confirm.html", context=context)


@router.post("/manage/agents/{grant_id}/revoke")
def revoke_grant(
    grant_id: Id, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, caller: SignedIn, session: WriteSession
) -> Response:
    if not confirmed(form):
        return site.redirect(request, f"/manage/agents/{grant_id}/revoke")
    view = services.grants.revoke(session, caller.user, grant_id)
    text = f"{view.agent.name} can no longer use your Memory Passport. Its next request gets nothing."
    return site.redirect(request, "/manage/agents", Flash("ok", text))


@router.post("/manage/agents/{grant_id}/code")
def new_code(
    grant_id: Id, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, caller: SignedIn, session: WriteSession
) -> Response:
    view, code = services.grants.issue_code(session, caller.user, grant_id)
    minutes = max(1, code.expires_in_seconds // 60)
    text = f"Your one-time code for {view.agent.name}. Give it to the app within {minutes} minutes; it works once."
    return site.redirect(request, "/manage/agents", Flash("ok", text, code=code.code))


@router.get("/manage/connections")
def connections_tab(request: Request, site: SiteDep, services: ServicesDep, caller: SignedIn, session: ReadSession) -> Response:
    connections = services.connections.list(session, caller.user)
    return render_tab(
        site, request, services, session, caller, tab="connections", template="manage/connections.html", context={"connections": connections}
    )


@router.get("/manage/connections/{connection_id}/delete")
def disconnect_confirm(
    connection_id: Id, request: Request, site: SiteDep, services: ServicesDep, caller: SignedIn, session: ReadSession
) -> Response:
    """Disconnecting asks once, as revoking does."""
    view = services.connections.get(session, caller.user, connection_id)
    organisation = view.organisation_name
    context = {
        "title": f"Disconnect your {organisation} account?",
        "lines": [
            f"{organisation}'s apps will no longer find your passport through this account. "
            "Agents you approved keep the access you gave them: revoke that in Agents.",
            "To connect again later, use the app's “Connect Memory Passport” link.",
        ],
        "action": f"/manage/connections/{view.id}/delete",
        "button": "Disconnect",
        "cancel": "/manage/connections",
    }
    return render_tab(site, request, services, session, caller, tab="connections", template="manage/confirm.html", context=context)


@router.post("/manage/connections/{connection_id}/delete")
def disconnect(
    connection_id: Id, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, caller: SignedIn, session: WriteSession
) -> Response:
    if not confirmed(form):
        return site.redirect(request, f"/manage/connections/{connection_id}/delete")
    view = services.connections.delete(session, caller.user, connection_id)
    return site.redirect(
        request, "/manage/connections", Flash("ok", f"Disconnected. {view.organisation_name} is no longer linked to your passport.")
    )
