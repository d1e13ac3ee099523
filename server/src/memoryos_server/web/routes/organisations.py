"""The organisation directory and the OAuth connector, in the browser (SPEC §6, seed 001 "Step 2C").

``/connect/organisations`` lists the organisations; "Connect" starts the authorization-code
flow (``OAuthConnectorService.start``) and sends the browser to the organisation's sign-in
page. It comes back to ``/oauth/callback``, which finishes the flow and, when the account is
connected, sends the browser on to the success screen (so reloading it repeats nothing).
Any failure is a page saying what went wrong; nothing is connected.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from memoryos_server.errors import DirectoryEntryNotFound, MemoryOSError
from memoryos_server.services.logos import LOGO_HEADERS
from memoryos_server.web.deps import CheckedForm, MaybeSignedIn, ReadSession, ServicesDep, SignedIn, SiteDep, WriteSession
from memoryos_server.web.errors import WebRoute, render_error
from memoryos_server.web.redirects import here

router = APIRouter(route_class=WebRoute, include_in_schema=False)

Id = Annotated[str, Path(max_length=64)]


@router.get("/connect/organisations")
def directory_page(
    request: Request,
    site: SiteDep,
    services: ServicesDep,
    caller: MaybeSignedIn,
    session: ReadSession,
    q: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    if caller is None:
        return site.sign_in_first(request, here(request))
    search = (q or "").strip()
    organisations = services.directory.listed(session, search)
    connected = {view.directory_id for view in services.connections.list(session, caller.user)}
    context = {"organisations": organisations, "connected": connected, "q": search}
    return site.render(request, "organisations.html", context, email=caller.user.email)


@router.post("/connect/organisations/{directory_id}")
def start(
    directory_id: Id, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, caller: SignedIn, session: WriteSession
) -> Response:
    return site.redirect(request, services.oauth_connectors.start(session, caller, directory_id))


@router.get("/oauth/callback")
def callback(
    request: Request,
    site: SiteDep,
    services: ServicesDep,
    code: Annotated[str | None, Query(max_length=4000)] = None,
    state: Annotated[str | None, Query(max_length=400)] = None,
    error: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    # The service runs its own transactions: it calls the organisation's servers between them.
    try:
        done = services.oauth_connectors.complete(session_token=site.session_token(request), state=state, code=code, error=error)
        response: Response = site.redirect(request, f"/connect/organisations/connected/{done.connection_id}")
    except MemoryOSError as failure:
        response = render_error(request, failure)
    # This address carries the code and the state: no page it leads to should learn them.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@router.get("/connect/organisations/connected/{connection_id}")
def connected_page(connection_id: Id, request: Request, site: SiteDep, services: ServicesDep, caller: SignedIn, session: ReadSession) -> Response:
    view = services.connections.get(session, caller.user, connection_id)
    organisation = None
    if view.directory_id:
        try:
            organisation = services.directory.organisation(session, view.directory_id)
        except DirectoryEntryNotFound:
            organisation = None
    context = {"connection": view, "organisation": organisation}
    return site.render(request, "organisation_connected.html", context, email=caller.user.email)


@router.get("/directory/{directory_id}/logo")
def logo(directory_id: Id, services: ServicesDep, session: ReadSession) -> Response:
    """An organisation's logo, as fetched when it registered: public, and only ever an image."""
    found = services.directory.logo(session, directory_id)
    if found is None:
        raise DirectoryEntryNotFound("this organisation has no logo")
    image, content_type = found
    return Response(image, media_type=content_type, headers=dict(LOGO_HEADERS))
