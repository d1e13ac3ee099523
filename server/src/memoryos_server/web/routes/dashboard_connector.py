"""The dashboard's OAuth connector: the organisation's entry in the directory, registered,
edited and taken out through ``DirectoryService`` as ``/v1/tenant/directory`` does."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from memoryos_server.errors import BadRequest, DirectoryEntryNotFound
from memoryos_server.services.passport.directory import DirectoryRegistration
from memoryos_server.web.deps import CheckedForm, ReadSession, ServicesDep, SiteDep, WriteSession, field
from memoryos_server.web.routes._dashboard import DashboardRoute, Member, render_page
from memoryos_server.web.templating import Flash

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)

CONNECTOR = "/dashboard/connector"
AUTH_METHODS = ("client_secret_post", "client_secret_basic")


@router.get(CONNECTOR)
def connector_page(request: Request, site: SiteDep, services: ServicesDep, principal: Member, session: ReadSession) -> Response:
    try:
        entry = services.directory.own(session, principal)
    except DirectoryEntryNotFound:
        entry = None
    return render_page(
        site, request, services, session, principal, tab="connector", template="dashboard/connector.html",
        context={"entry": entry, "redirect_uri": services.oauth_connectors.redirect_uri, "auth_methods": AUTH_METHODS},
    )


def _registration(form: FormData) -> DirectoryRegistration:
    """The form as the API's body: blank optional fields are absent, a blank secret keeps the
    stored one, scopes are separated by spaces."""
    method = field(form, "token_endpoint_auth_method", max_length=40) or "client_secret_post"
    return DirectoryRegistration(
        display_name=field(form, "display_name", max_length=200),
        category=field(form, "category", max_length=60) or None,
        website_url=field(form, "website_url") or None,
        logo_url=field(form, "logo_url") or None,
        oauth_client_id=field(form, "oauth_client_id", max_length=400),
        oauth_client_secret=_secret(form),
        oauth_authorization_url=field(form, "oauth_authorization_url"),
        oauth_token_url=field(form, "oauth_token_url"),
        oauth_userinfo_url=field(form, "oauth_userinfo_url"),
        oauth_scopes=tuple(field(form, "oauth_scopes", max_length=400).split()) or ("openid",),
        token_endpoint_auth_method=method,
        is_public=form.get("is_public") == "on",
        link_token_enabled=form.get("link_token_enabled") == "on",
    )


def _secret(form: FormData) -> str | None:
    """The client secret exactly as typed; an empty field keeps the stored one."""
    value = form.get("oauth_client_secret")
    if value is not None and (not isinstance(value, str) or len(value) > 2000):
        raise BadRequest("invalid_form", "the field oauth_client_secret is not valid")
    return value or None


@router.post(CONNECTOR)
def save_connector(request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, principal: Member, session: WriteSession) -> Response:
    done = services.directory.register(session, principal, _registration(form))
    text = "Your organisation is in the directory." if done.created else "Saved."
    if done.logo_problem:
        text += f" The logo could not be used ({done.logo_problem}); people see your initials."
    return site.redirect(request, CONNECTOR, Flash("ok", text))


@router.post(f"{CONNECTOR}/remove")
def remove_connector(request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, principal: Member, session: WriteSession) -> Response:
    entry = services.directory.remove(session, principal)
    text = f"{entry.display_name} is out of the directory. Accounts already connected stay until their owners disconnect them."
    return site.redirect(request, CONNECTOR, Flash("ok", text))
