"""The organisation directory and the OAuth connector: a tenant's registration, the public
list, and the passport user's side (the list with what they connected, starting a flow).

The flow ends in the browser, at the consent app's ``/oauth/callback`` (web/routes/organisations.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from memoryos_server.api.deps import PassportUser, ReadSession, ServicesDep, TenantPrincipal, WriteSession
from memoryos_server.api.envelope import Envelope, Paged, ok, page
from memoryos_server.api.routing import AuthenticatedRoute
from memoryos_server.api.schemas.directory import (
    AuthorizationUrlOut,
    DirectoryEntryOut,
    DirectoryRegisteredOut,
    DirectoryRegisterIn,
    OAuthInitiateIn,
    OrganisationOut,
    PassportOrganisationOut,
)

tenant_router = APIRouter(
    prefix="/v1/tenant/directory", tags=["memory passport: connectors"], route_class=AuthenticatedRoute
)
public_router = APIRouter(prefix="/v1/directory", tags=["memory passport: connectors"], route_class=AuthenticatedRoute)
passport_router = APIRouter(prefix="/v1/uui", tags=["memory passport: the passport user"], route_class=AuthenticatedRoute)

Search = Annotated[str | None, Query(max_length=100, description="Part of a name or category, any case")]


# --- the organisation ------------------------------------------------------------------------------


@tenant_router.post(
    "/register",
    summary="Register (or replace) your organisation's OAuth connector in the directory",
    response_model=Envelope[DirectoryRegisteredOut],
)
def register(body: DirectoryRegisterIn, principal: TenantPrincipal, session: WriteSession, services: ServicesDep) -> dict[str, Any]:
    done = services.directory.register(session, principal, body.registration())
    return ok(
        DirectoryRegisteredOut(
            directory_id=done.directory_id,
            status=done.status,
            created=done.created,
            logo_stored=done.logo_stored,
            logo_problem=done.logo_problem,
        )
    )


@tenant_router.get("", summary="Your organisation's directory entry (never its client secret)", response_model=Envelope[DirectoryEntryOut])
def own_entry(principal: TenantPrincipal, session: ReadSession, services: ServicesDep) -> dict[str, Any]:
    view = services.directory.own(session, principal)
    return ok(DirectoryEntryOut.of(view, redirect_uri=services.oauth_connectors.redirect_uri))


@tenant_router.delete(
    "",
    summary="Take your organisation out of the directory (connections made stay until people disconnect)",
    response_model=Envelope[DirectoryEntryOut],
)
def remove_entry(principal: TenantPrincipal, session: WriteSession, services: ServicesDep) -> dict[str, Any]:
    view = services.directory.remove(session, principal)
    return ok(DirectoryEntryOut.of(view, redirect_uri=services.oauth_connectors.redirect_uri))


# --- everyone --------------------------------------------------------------------------------------


@public_router.get("", summary="The organisation directory (public: no credentials, no secrets)", response_model=Paged[OrganisationOut])
def directory(session: ReadSession, services: ServicesDep, q: Search = None) -> dict[str, Any]:
    base = services.runtime.settings.resolved_public_url
    items = [OrganisationOut.of(organisation, base_url=base) for organisation in services.directory.listed(session, q)]
    return page(items, next_cursor=None, limit=len(items), total=len(items))


# --- the passport user -----------------------------------------------------------------------------


@passport_router.get(
    "/organisations",
    summary="The organisation directory, with the ones this passport connected",
    response_model=Paged[PassportOrganisationOut],
)
def organisations(caller: PassportUser, session: ReadSession, services: ServicesDep, q: Search = None) -> dict[str, Any]:
    base = services.runtime.settings.resolved_public_url
    connected = {view.directory_id for view in services.connections.list(session, caller.user)}
    items = [
        PassportOrganisationOut(**OrganisationOut.fields_of(organisation, base_url=base), connected=organisation.id in connected)  # type: ignore[arg-type]
        for organisation in services.directory.listed(session, q)
    ]
    return page(items, next_cursor=None, limit=len(items), total=len(items))


@passport_router.post(
    "/oauth/initiate",
    summary="Start connecting an account at an organisation: where to send the browser",
    response_model=Envelope[AuthorizationUrlOut],
)
def initiate(body: OAuthInitiateIn, caller: PassportUser, session: WriteSession, services: ServicesDep) -> dict[str, Any]:
    url = services.oauth_connectors.start(session, caller, body.org_directory_id)
    return ok(AuthorizationUrlOut(authorization_url=url))
