"""The secure-link connector: a company's app sends its signed-in user here with a one-time link.

The person sees which organisation the link connects and confirms; only then is the link used
(``ConnectionService.connect_with_link``). A connection grants no memory access by itself, so
the person continues into that agent's consent screen.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response

from memoryos_server.errors import BadRequest
from memoryos_server.web.deps import CheckedForm, MaybeSignedIn, ReadSession, ServicesDep, SignedIn, SiteDep, WriteSession, field
from memoryos_server.web.errors import WebRoute
from memoryos_server.web.redirects import here
from memoryos_server.web.templating import Flash

router = APIRouter(route_class=WebRoute, include_in_schema=False)

Param = Annotated[str | None, Query(max_length=200)]


@router.get("/connect")
def connect_page(
    request: Request, site: SiteDep, services: ServicesDep, caller: MaybeSignedIn, session: ReadSession, agent_id: Param = None, link_token: Param = None
) -> Response:
    if not agent_id or not link_token:
        raise BadRequest("incomplete_link", "this connection link is incomplete")
    agent = services.grants.grantable_agent(session, agent_id)
    if caller is None:
        return site.sign_in_first(request, here(request))
    user = caller.user
    preview = services.connections.preview_link(session, agent.id, link_token)
    context = {"agent": agent, "organisation": preview.organisation_name, "link_token": link_token, "expires_at": preview.expires_at}
    return site.render(request, "connect.html", context, email=user.email)


@router.post("/connect")
def connect_confirm(request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, caller: SignedIn, session: WriteSession) -> Response:
    agent_id = field(form, "agent_id", max_length=64)
    link_token = field(form, "link_token", max_length=200)
    user = caller.user
    agent = services.grants.grantable_agent(session, agent_id)
    organisation = services.connections.preview_link(session, agent.id, link_token).organisation_name
    services.connections.connect_with_link(session, user, agent.id, link_token)
    flash = Flash("ok", f"Your {organisation} account is connected. Now choose what {agent.name} may use.")
    return site.redirect(request, "/consent?" + urlencode({"agent_id": agent.id}), flash)
