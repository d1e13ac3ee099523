"""The dashboard's Sources: the organisation's service writers and their source events, on
``ProvenanceService`` as ``/v1/tenant/service-writers`` and ``/v1/tenant/source-events`` use it."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from memoryos_server.errors import BadRequest
from memoryos_server.services.permissions import Permission
from memoryos_server.services.provenance import DEFAULT_PRIORITY, AuthorityRules
from memoryos_server.web.deps import CheckedForm, ReadSession, ServicesDep, SiteDep, WriteSession, field
from memoryos_server.web.routes._dashboard import DashboardRoute, Member, confirmed, render_page
from memoryos_server.web.templating import Flash

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)

SOURCES = "/dashboard/sources"


@router.get("/dashboard/sources")
def sources_page(
    request: Request, site: SiteDep, services: ServicesDep, principal: Member, session: ReadSession, cursor: str | None = None
) -> Response:
    writers = services.provenance.list_writers(session, principal)
    events = services.provenance.list_events(session, principal, cursor=cursor, limit=50)
    keys = services.identity.list_api_keys(session, principal) if principal.may(Permission.KEYS_MANAGE) else []
    return render_page(
        site, request, services, session, principal, tab="sources", template="dashboard/sources.html",
        context={"writers": writers, "events": events, "keys": [k for k in keys if k.revoked_at is None], "default_priority": DEFAULT_PRIORITY},
    )


@router.post("/dashboard/sources")
def create_writer(request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, principal: Member, session: WriteSession) -> Response:
    raw_priority = field(form, "default_priority", max_length=3) or str(DEFAULT_PRIORITY)
    if not raw_priority.isdigit():
        raise BadRequest("invalid_priority", "a priority is a whole number from 0 to 100")
    writer = services.provenance.create_writer(
        session,
        principal,
        service_key=field(form, "service_key", max_length=100),
        display_name=field(form, "display_name", max_length=200) or None,
        rules=AuthorityRules(default_priority=int(raw_priority)),
        api_key_id=field(form, "api_key_id", max_length=40) or None,
    )
    return site.redirect(request, SOURCES, Flash("ok", f"Service writer {writer.service_key} is registered."))


@router.get("/dashboard/sources/{service_key}/delete")
def confirm_delete(service_key: str, request: Request, site: SiteDep, services: ServicesDep, principal: Member, session: ReadSession) -> Response:
    writer = services.provenance.get_writer(session, principal, service_key)
    return render_page(
        site, request, services, session, principal, tab="sources", template="dashboard/confirm.html",
        context={
            "title": f"Remove the service writer {writer.service_key}?",
            "lines": ["Its past events and memories stay, with their provenance. New claims from it are refused."],
            "action": f"{SOURCES}/{writer.service_key}/delete",
            "button": "Remove service writer",
            "cancel": SOURCES,
        },
    )


@router.post("/dashboard/sources/{service_key}/delete")
def delete_writer(
    service_key: str, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, principal: Member, session: WriteSession
) -> Response:
    if not confirmed(form.get("confirm")):
        return site.redirect(request, f"{SOURCES}/{service_key}/delete")
    services.provenance.delete_writer(session, principal, service_key)
    return site.redirect(request, SOURCES, Flash("ok", f"Service writer {service_key} is removed."))
