"""The dashboard's overview, API keys and OAuth clients, members and roles: ``IdentityService``
and ``MemberService`` as ``/v1/tenant/*`` uses them. Which buttons a page shows follows the
member's role (SPEC §4's table, ``services/permissions.py``); the services refuse the rest."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from memoryos_server.services.permissions import MEMBERSHIP_ROLES, Permission
from memoryos_server.web.charts import bar_chart
from memoryos_server.web.deps import CheckedForm, ReadSession, ServicesDep, SiteDep, WriteSession, field
from memoryos_server.web.routes._dashboard import DashboardRoute, Member, render_page
from memoryos_server.web.templating import Flash

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)

KEYS = "/dashboard/keys"
MEMBERS = "/dashboard/members"


@router.get("/dashboard")
def overview(request: Request, site: SiteDep, services: ServicesDep, principal: Member, session: ReadSession) -> Response:
    usage = services.usage.report(session, principal) if principal.may(Permission.USAGE_READ) else None
    invitations = services.members.invitations_for(session, principal)
    return render_page(
        site, request, services, session, principal, tab="overview", template="dashboard/overview.html",
        context={"usage": usage, "invitations": invitations},
    )


# --- API keys and OAuth clients -------------------------------------------------------------------


@router.get("/dashboard/keys")
def keys_page(request: Request, site: SiteDep, services: ServicesDep, principal: Member, session: ReadSession) -> Response:
    keys = services.identity.list_api_keys(session, principal)
    clients = services.identity.list_oauth_clients(session, principal)
    members, _invited = services.members.list(session, principal)
    creators = {user.id: user.email for _membership, user in members}
    return render_page(
        site, request, services, session, principal, tab="keys", template="dashboard/keys.html",
        context={"keys": keys, "clients": clients, "creators": creators},
    )


def _name(form: object) -> str:
    return field(form, "name", max_length=200) or "default"  # type: ignore[arg-type]


@router.post("/dashboard/keys")
def create_key(request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, principal: Member, session: WriteSession) -> Response:
    key, raw = services.identity.create_api_key(session, principal, name=_name(form))
    text = f"API key {key.name} is ready. Copy it now into your backend's secrets: you cannot see it again."
    return site.redirect(request, KEYS, Flash("ok", text, code=raw))


@router.post("/dashboard/keys/{key_id}/revoke")
def revoke_key(
    key_id: str, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, principal: Member, session: WriteSession
) -> Response:
    key = services.identity.revoke_api_key(session, principal, key_id)
    return site.redirect(request, KEYS, Flash("ok", f"API key {key.name} is revoked: it fails from now on."))


@router.post("/dashboard/oauth-clients")
def create_client(request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, principal: Member, session: WriteSession) -> Response:
    client, secret = services.identity.create_oauth_client(session, principal, name=_name(form))
    text = f"OAuth client {client.name} is ready: client id {client.public_id}. Copy its secret now: you cannot see it again."
    return site.redirect(request, KEYS, Flash("ok", text, code=secret))


@router.post("/dashboard/oauth-clients/{client_id}/revoke")
def revoke_client(
    client_id: str, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, principal: Member, session: WriteSession
) -> Response:
    client = services.identity.revoke_oauth_client(session, principal, client_id)
    return site.redirect(request, KEYS, Flash("ok", f"OAuth client {client.name} is revoked: its tokens fail from now on."))


# --- members and roles ---------------------------------------------------------------------------


@router.get("/dashboard/members")
def members_page(request: Request, site: SiteDep, services: ServicesDep, principal: Member, session: ReadSession) -> Response:
    members, invitations = services.members.list(session, principal)
    # Only owners hand out or take away ownership (MemberService): others are not offered it.
    roles = [role for role in MEMBERSHIP_ROLES if role != "owner" or principal.role == "owner"]
    return render_page(
        site, request, services, session, principal, tab="members", template="dashboard/members.html",
        context={"members": members, "invitations": invitations, "roles": roles, "me": principal.credential_id},
    )


@router.post("/dashboard/members")
def invite(request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, principal: Member, session: WriteSession) -> Response:
    issued = services.members.invite(session, principal, email=field(form, "email", max_length=320), role=field(form, "role", max_length=20))
    text = f"Invitation sent to {issued.invitation.email} as {issued.invitation.role}: it works once, for 7 days."
    return site.redirect(request, MEMBERS, Flash("ok", text))


@router.post("/dashboard/members/{member_id}/role")
def change_role(
    member_id: str, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, principal: Member, session: WriteSession
) -> Response:
    membership, user = services.members.update(session, principal, member_id, role=field(form, "role", max_length=20))
    return site.redirect(request, MEMBERS, Flash("ok", f"{user.email} is now {membership.role}."))


@router.post("/dashboard/members/{member_id}/remove")
def remove(
    member_id: str, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, principal: Member, session: WriteSession
) -> Response:
    services.members.remove(session, principal, member_id)
    text = "Invitation withdrawn." if member_id.startswith("inv_") else "Member removed: their sign-in and the keys they made stop working here."
    return site.redirect(request, MEMBERS, Flash("ok", text))


@router.get("/dashboard/usage")
def usage_page(request: Request, site: SiteDep, services: ServicesDep, principal: Member, session: ReadSession) -> Response:
    days = services.usage.daily(session, principal, days=30)
    labels = [d.day for d in days]
    charts = [
        bar_chart("New memories", labels, [d.memories for d in days]),
        bar_chart("Adds", labels, [d.adds for d in days]),
        bar_chart("Retrievals", labels, [d.retrievals for d in days]),
        bar_chart("Active grants", labels, [d.active_grants for d in days]),
    ]
    return render_page(
        site, request, services, session, principal, tab="usage", template="dashboard/usage.html",
        context={"days": days, "charts": charts, "report": services.usage.report(session, principal)},
    )


@router.get("/dashboard/audit")
def audit_page(
    request: Request, site: SiteDep, services: ServicesDep, principal: Member, session: ReadSession, cursor: str | None = None
) -> Response:
    items, next_id, total = services.tenant_audit.events(session, principal, action=None, cursor=cursor, limit=50)
    return render_page(
        site, request, services, session, principal, tab="usage", template="dashboard/audit.html",
        context={"events": items, "next_cursor": str(next_id) if next_id else None, "total": total},
    )
