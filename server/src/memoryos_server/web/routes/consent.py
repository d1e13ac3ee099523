"""The consent screen: an agent asks, the person chooses categories, mode and duration.

Everything decided here is decided by the services: which agents may be approved
(``GrantService.grantable_agent``), where the browser may go back to
(``AgentService.resolve_redirect_uri``: a registered URI or none), what a grant may hold
(``GrantService.create_or_replace``), and what a secure link connects (``ConnectionService``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.orm import Session

from memoryos_server.engine.types import CATEGORIES
from memoryos_server.errors import BadRequest, ValidationFailed
from memoryos_server.services.container import Services
from memoryos_server.services.passport.service import PassportCaller
from memoryos_server.web.deps import CheckedForm, MaybeSignedIn, ReadSession, ServicesDep, SignedIn, SiteDep, WriteSession, field, fields
from memoryos_server.web.errors import WebRoute
from memoryos_server.web.redirects import here, with_query
from memoryos_server.web.site import Site
from memoryos_server.web.templating import DEFAULT_DURATION, DURATIONS, Flash

router = APIRouter(route_class=WebRoute, include_in_schema=False)

Param = Annotated[str | None, Query(max_length=2000)]
_DURATION_DAYS = {value: days for value, _, days in DURATIONS}


@dataclass(frozen=True)
class ConsentAsk:
    """What the agent's consent URL asked for, carried through the form unchanged."""

    agent_id: str
    redirect_uri: str | None
    state: str | None
    link_token: str | None
    categories: list[str]

    def hidden_fields(self) -> dict[str, str]:
        return {
            "agent_id": self.agent_id,
            "redirect_uri": self.redirect_uri or "",
            "state": self.state or "",
            "link_token": self.link_token or "",
        }


@dataclass(frozen=True)
class Choices:
    categories: list[str]
    access_type: str
    duration: str


def requested_categories(raw: str | None) -> list[str]:
    """The known categories a consent URL names (comma-separated); unknown names are ignored:
    the person ticks what they want anyway."""
    names = [part.strip() for part in (raw or "").split(",")]
    return [name for name in dict.fromkeys(names) if name in CATEGORIES]


KEEP_EXPIRY = "keep"


def duration_days(value: str) -> int | None:
    if value not in _DURATION_DAYS:
        raise BadRequest("invalid_duration", "choose how long the access lasts")
    return _DURATION_DAYS[value]


def _render_consent(
    site: Site,
    request: Request,
    services: Services,
    session: Session,
    *,
    user: Any,  # the person (a UniversalUser row)
    agent: Any,  # the agent asking (a GlobalAgent row)
    ask: ConsentAsk,
    choices: Choices,
    error: str | None = None,
    status: int = 200,
) -> Response:
    target = services.agents.resolve_redirect_uri(agent, ask.redirect_uri)
    link = services.connections.preview_link(session, agent.id, ask.link_token) if ask.link_token else None
    existing = services.grants.active_for_agent(session, user, agent.id)
    context: dict[str, Any] = {
        "agent": agent,
        "website_host": urlsplit(agent.website_url).hostname if agent.website_url else None,
        "return_host": urlsplit(target).netloc if target else None,
        "ask": ask,
        "choices": choices,
        "link": link,
        "existing": existing,
        # What the app asks for beyond the access it holds: said, not silently ticked.
        "asks_more": [name for name in ask.categories if existing and name not in existing.grant.categories],
    }
    flashes = [Flash("error", error)] if error else []
    return site.render(request, "consent.html", context, status_code=status, email=user.email, flashes=flashes)


@router.get("/consent")
def consent_page(
    request: Request,
    site: SiteDep,
    services: ServicesDep,
    caller: MaybeSignedIn,
    session: ReadSession,
    agent_id: Param = None,
    categories: Param = None,
    state: Param = None,
    redirect_uri: Param = None,
    link_token: Param = None,
) -> Response:
    if not agent_id:
        raise BadRequest("missing_agent", "this consent link does not name an agent")
    ask = ConsentAsk(agent_id, redirect_uri or None, state, link_token or None, requested_categories(categories))
    # An unknown agent or an unregistered redirect_uri is refused before anyone signs in.
    agent = services.grants.grantable_agent(session, agent_id)
    services.agents.resolve_redirect_uri(agent, ask.redirect_uri)
    if caller is None:
        return site.sign_in_first(request, here(request))
    user = caller.user
    existing = services.grants.active_for_agent(session, user, agent.id)
    if existing is not None:
        # The access the person gave before, as it is: one click on "Update access" changes
        # nothing they did not change themselves.
        choices = Choices(list(existing.grant.categories), existing.grant.access_type, KEEP_EXPIRY)
    else:
        choices = Choices(ask.categories or list(agent.default_categories or []), "read_only", DEFAULT_DURATION)
    return _render_consent(site, request, services, session, user=user, agent=agent, ask=ask, choices=choices)


@router.post("/consent")
def consent_answer(request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, caller: SignedIn, session: WriteSession) -> Response:
    ask = ConsentAsk(
        agent_id=field(form, "agent_id", max_length=64),
        redirect_uri=field(form, "redirect_uri") or None,
        state=field(form, "state") or None,
        link_token=field(form, "link_token", max_length=200) or None,
        categories=[],
    )
    decision = field(form, "decision", max_length=16)
    if decision == "deny":
        return _deny(request, site, services, session, caller, ask)
    if decision != "approve":
        raise BadRequest("invalid_decision", "choose Approve or Deny")
    choices = Choices(fields(form, "categories"), field(form, "access_type", max_length=16) or "read_only", field(form, "duration", max_length=16))
    agent = services.grants.grantable_agent(session, ask.agent_id)
    target = services.agents.resolve_redirect_uri(agent, ask.redirect_uri)
    keep = choices.duration == KEEP_EXPIRY
    try:
        with session.begin_nested():  # a refused choice leaves nothing behind (a link half-used, say)
            issued = services.grants.create_or_replace(
                session,
                caller.user,
                agent_id=agent.id,
                categories=choices.categories,
                access_type=choices.access_type,
                duration_days=None if keep else duration_days(choices.duration),
                link_token=ask.link_token,
                keep_expiry=keep,
            )
    except ValidationFailed as error:
        text = str(error)
        return _render_consent(
            site, request, services, session, user=caller.user, agent=agent, ask=ask, choices=choices,
            error=text[:1].upper() + text[1:] + ".", status=422,
        )
    if target is not None:
        return site.redirect(request, with_query(target, {"status": "granted", "state": ask.state, "code": issued.code.code}))
    return site.redirect(request, "/consent/complete?" + urlencode({"agent_id": agent.id, "status": "granted"}))


def _deny(request: Request, site: Site, services: Services, session: Session, caller: PassportCaller, ask: ConsentAsk) -> Response:
    """Nothing is stored, and an access given earlier stays as it was (the hosted page says so).
    The agent learns that the answer was no and, when it still holds the access given before,
    that it does (``grant=unchanged``), so it does not drop the UUI it rightly keeps."""
    agent = services.grants.grantable_agent(session, ask.agent_id)
    target = services.agents.resolve_redirect_uri(agent, ask.redirect_uri)
    if target is not None:
        answer = {"status": "denied", "state": ask.state}
        if services.grants.active_for_agent(session, caller.user, agent.id) is not None:
            answer["grant"] = "unchanged"
        return site.redirect(request, with_query(target, answer))
    return site.redirect(request, "/consent/complete?" + urlencode({"agent_id": agent.id, "status": "denied"}))


@router.get("/consent/complete")
def consent_complete(
    request: Request, site: SiteDep, services: ServicesDep, caller: SignedIn, session: ReadSession, agent_id: Param = None, status: Param = None
) -> Response:
    """The hosted completion page, for agents without a redirect URI. It shows the grant as it
    is now, not as a query string claims."""
    user = caller.user
    agent = services.agents.public_profile(session, agent_id or "")
    grant = services.grants.active_for_agent(session, user, agent.id)
    context = {"agent": agent, "denied": status == "denied", "grant": grant}
    return site.render(request, "consent_done.html", context, email=user.email)
