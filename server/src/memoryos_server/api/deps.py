"""Dependencies routers declare as Annotated aliases. Authentication is on by default."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request

from memoryos_server.errors import CrossSiteRequest, PermissionDenied
from memoryos_server.origins import claimed_origin, site_origins

# The request's services and transaction, shared with the pages (re-exported for the routers).
from memoryos_server.request_scope import ReadSession, RuntimeDep, ServicesDep, WriteSession, get_runtime, get_services  # noqa: F401
from memoryos_server.services.passport.service import SESSION_COOKIE, PassportCaller
from memoryos_server.services.principal import Principal
from memoryos_server.services.passport.agent_access import AgentCaller

T = TypeVar("T")


def authenticated(request: Request, authenticate: Callable[[Request], T]) -> T:
    """``authenticate(request)``, once per request.

    ``AuthenticatedRoute`` calls it before FastAPI reads the body; the route's dependency then
    finds the answer here instead of checking the credential again.
    """
    done: dict[Any, Any] = request.scope.setdefault("memoryos.authenticated", {})
    if authenticate not in done:
        done[authenticate] = authenticate(request)
    return done[authenticate]  # type: ignore[no-any-return]


def _tenant_caller(request: Request) -> Principal:
    return get_services(request).identity.authenticate_request(
        authorization=request.headers.get("authorization"), x_api_key=request.headers.get("x-api-key")
    )


def get_principal(request: Request) -> Principal:
    """The tenant caller: dashboard JWT, tenant API key, or OAuth client token."""
    return authenticated(request, _tenant_caller)


TenantPrincipal = Annotated[Principal, Depends(get_principal)]


def get_operator(principal: TenantPrincipal) -> Principal:
    if not principal.is_operator:
        raise PermissionDenied("operator access only")
    return principal


OperatorPrincipal = Annotated[Principal, Depends(get_operator)]

EndUserHeader = Annotated[
    str | None,
    Header(alias="X-End-User-ID", description="The tenant's id for the end-user (API key and OAuth callers)."),
]


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _passport_caller(request: Request) -> PassportCaller:
    services = get_services(request)
    header = request.headers.get("x-memoryos-session")
    if header:
        return services.passport.authenticate_request(header)
    token = request.cookies.get(SESSION_COOKIE)
    if token and request.method not in _SAFE_METHODS:
        claimed = claimed_origin(request)
        if not claimed or not site_origins(request).from_this_site(request, claimed):
            raise CrossSiteRequest(
                "a change made with the session cookie must come from this site; other clients send X-MemoryOS-Session"
            )
    return services.passport.authenticate_request(token)


def get_passport_caller(request: Request) -> PassportCaller:
    """The signed-in passport user: ``X-MemoryOS-Session`` header, else the session cookie.

    A browser sends the cookie by itself, so a change (POST, PATCH, DELETE) authenticated by the
    cookie alone must say it comes from this site: an ``Origin`` (else ``Referer``) of this
    server or the consent app, else ``CrossSiteRequest`` (403). SameSite=Lax is not the only
    guard (sibling subdomains are "same site"). The header needs no such check: another site
    cannot read the session to send it.
    """
    return authenticated(request, _passport_caller)


PassportUser = Annotated[PassportCaller, Depends(get_passport_caller)]


def _agent(request: Request) -> AgentCaller:
    services = get_services(request)
    with services.runtime.db.session(write=False) as session:
        return services.agent_access.authenticate(
            session, authorization=request.headers.get("authorization"), uui_token=None, needs_user=False
        )


def _agent_for_user(request: Request) -> AgentCaller:
    services = get_services(request)
    with services.runtime.db.session(write=False) as session:
        return services.agent_access.authenticate(
            session,
            authorization=request.headers.get("authorization"),
            uui_token=request.headers.get("x-memoryos-uui"),
            needs_user=True,
        )


def get_agent(request: Request) -> AgentCaller:
    """An agent by its ``agent_sk_…`` key alone (consent exchange, user resolve)."""
    return authenticated(request, _agent)


def get_agent_for_user(request: Request) -> AgentCaller:
    """An agent and the passport user its ``X-MemoryOS-UUI`` names for it."""
    return authenticated(request, _agent_for_user)


AgentKey = Annotated[AgentCaller, Depends(get_agent)]
AgentForUser = Annotated[AgentCaller, Depends(get_agent_for_user)]

# The dependencies that establish who is calling. ``AuthenticatedRoute`` runs the ones a route
# depends on (directly or through another dependency) before the body is read.
AUTHENTICATORS: frozenset[Callable[[Request], Any]] = frozenset(
    {get_principal, get_passport_caller, get_agent, get_agent_for_user}
)
