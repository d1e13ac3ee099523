"""``/authorize``: an MCP client asks, on the same consent screen as an agent (docs/mcp.md).

The request is checked by ``McpAuthorizationServer.check_authorization``: an unknown client or
an unregistered redirect URI is shown here as an error page (there is nowhere safe to send the
person); any other fault goes back to the client's redirect URI as OAuth says. The person signs
in first (``/login``), then sees the client's self-declared name and where the answer goes under
a "not a registered agent" warning, with the categories it asked for ticked; Approve creates the
grant as for any agent and sends the browser back with a single-use code, Deny with
``access_denied``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from memoryos_server.clientip import ClientIp
from memoryos_server.errors import BadRequest, NotFound, OAuthError, ValidationFailed
from memoryos_server.services.container import Services
from memoryos_server.services.passport.mcp_auth.authorization import AuthorizationRequest, AuthorizeRefusal
from memoryos_server.web.deps import CheckedForm, MaybeSignedIn, ReadSession, ServicesDep, SignedIn, SiteDep, WriteSession, field, fields
from memoryos_server.web.errors import WebRoute
from memoryos_server.web.redirects import here
from memoryos_server.web.routes.consent import KEEP_EXPIRY, Choices, duration_days
from memoryos_server.web.site import Site
from memoryos_server.web.templating import DEFAULT_DURATION, Flash

router = APIRouter(route_class=WebRoute, include_in_schema=False)

# The authorization request's parameters, carried through the consent form unchanged.
PARAMETERS = ("response_type", "client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method", "scope", "resource")


class _Ask:
    """The consent template's ``ask``: the hidden fields that carry the request back."""

    def __init__(self, request: AuthorizationRequest) -> None:
        self.request = request
        self.categories = list(request.scope.categories)

    def hidden_fields(self) -> dict[str, str]:
        return {name: self.request.params[name] for name in PARAMETERS if self.request.params.get(name)}


def _query(request: Request) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key in params or len(value) > 2000:
            raise OAuthError("invalid_request", f"the parameter {key[:40]!r} is repeated or too long")
        params[key] = value
    return params


def _render(
    site: Site,
    request: Request,
    services: Services,
    session: Session,
    *,
    user: Any,
    ask: AuthorizationRequest,
    choices: Choices,
    error: str | None = None,
    status: int = 200,
) -> Response:
    agent = ask.client.agent
    existing = services.grants.active_for_agent(session, user, agent.id)
    context: dict[str, Any] = {
        "agent": agent,
        "mcp_client": True,
        "form_action": "/authorize",
        "website_host": None,
        "return_host": ask.redirect_host,
        "ask": _Ask(ask),
        "choices": choices,
        "link": None,
        "existing": existing,
        "asks_more": [name for name in ask.scope.categories if existing and name not in existing.grant.categories],
    }
    flashes = [Flash("error", error)] if error else []
    return site.render(request, "consent.html", context, status_code=status, email=user.email, flashes=flashes)


@router.get("/authorize")
def authorize_page(
    request: Request, site: SiteDep, services: ServicesDep, caller: MaybeSignedIn, session: ReadSession, ip: ClientIp
) -> Response:
    _enabled(services)
    params = _query(request)
    try:
        # May fetch the client's metadata document. The request's read transaction begins at its
        # first statement, below, so none is held open during that call.
        ask = services.mcp_auth.check_authorization(params, ip=ip)
    except AuthorizeRefusal as refusal:
        return site.redirect(request, refusal.location)
    if caller is None:
        return site.sign_in_first(request, here(request))
    existing = services.grants.active_for_agent(session, caller.user, ask.client.agent.id)
    if existing is not None:
        # The access the person gave before, as it is (the consent screen's rule for agents).
        choices = Choices(list(existing.grant.categories), existing.grant.access_type, KEEP_EXPIRY)
    else:
        choices = Choices(list(ask.scope.categories), ask.scope.access_type, DEFAULT_DURATION)
    return _render(site, request, services, session, user=caller.user, ask=ask, choices=choices)


@router.post("/authorize")
def authorize_answer(
    request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, caller: SignedIn, session: WriteSession
) -> Response:
    _enabled(services)
    params = {name: field(form, name) for name in PARAMETERS if field(form, name)}
    try:
        ask = services.mcp_auth.check_authorization(params, refresh=False)
    except AuthorizeRefusal as refusal:
        return site.redirect(request, refusal.location)
    decision = field(form, "decision", max_length=16)
    if decision == "deny":
        return site.redirect(request, services.mcp_auth.deny(ask))
    if decision != "approve":
        raise BadRequest("invalid_decision", "choose Approve or Deny")
    choices = _choices(form)
    keep = choices.duration == KEEP_EXPIRY
    try:
        with session.begin_nested():  # a refused choice leaves nothing behind
            _, location = services.mcp_auth.approve(
                session,
                caller.user,
                ask,
                categories=choices.categories,
                access_type=choices.access_type,
                duration_days=None if keep else duration_days(choices.duration),
                keep_expiry=keep,
            )
    except ValidationFailed as error:
        text = str(error)
        return _render(
            site, request, services, session, user=caller.user, ask=ask, choices=choices,
            error=text[:1].upper() + text[1:] + ".", status=422,
        )
    return site.redirect(request, location)


def _enabled(services: Services) -> None:
    if not services.runtime.settings.mcp_enabled:
        raise NotFound("this server does not take MCP clients (MEMORYOS_MCP_ENABLED is off)")


def _choices(form: FormData) -> Choices:
    return Choices(fields(form, "categories"), field(form, "access_type", max_length=16) or "read_only", field(form, "duration", max_length=16))
