"""What the dashboard's and the operator console's pages share: the session, the route class,
the signed-in member, and rendering a page with its navigation.

The session is the member's own token from ``IdentityService.login`` (the token of
``POST /v1/auth/login``), kept in a sealed cookie of its own, ``memoryos_dashboard_session``
(HttpOnly, SameSite=Lax, Secure over https): each page authenticates it with the API's own
``IdentityService.authenticate``, so a removed member or a deleted organisation is signed out
at once, and every rule is the services' (a page hides what a role may not do; the service
refuses it anyway).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from memoryos_server import errors as e
from memoryos_server.services.container import Services
from memoryos_server.services.identity import IssuedToken
from memoryos_server.services.permissions import Permission
from memoryos_server.services.principal import Principal
from memoryos_server.web.deps import ServicesDep, SiteDep
from memoryos_server.web.errors import page_for, render_error
from memoryos_server.web.redirects import here, local_path
from memoryos_server.web.site import DASHBOARD_COOKIE, Site
from memoryos_server.web.templating import Flash

log = logging.getLogger("memoryos.web")

DASHBOARD_HOME = "/dashboard"
ADMIN_HOME = "/admin"
LOGIN_PATH = "/dashboard/login"

# (key, label, path, permission needed to see the tab or None)
TABS: tuple[tuple[str, str, str, Permission | None], ...] = (
    ("overview", "Overview", "/dashboard", None),
    ("passport", "Memory Passport", "/dashboard/passport", Permission.AGENTS_MANAGE),
    ("keys", "API keys", "/dashboard/keys", Permission.KEYS_MANAGE),
    ("users", "End-users", "/dashboard/users", Permission.USERS_READ),
    ("reviews", "Review queue", "/dashboard/reviews", Permission.REVIEWS_READ),
    ("sources", "Sources", "/dashboard/sources", Permission.PROVENANCE_READ),
    ("connector", "OAuth connector", "/dashboard/connector", Permission.CONNECTORS_MANAGE),
    ("usage", "Usage", "/dashboard/usage", Permission.USAGE_READ),
    ("playground", "Playground", "/dashboard/playground", Permission.MEMORY_READ),
    ("members", "Members", "/dashboard/members", Permission.MEMBERS_READ),
)


class DashboardSignInRequired(e.MemoryOSError):
    error = "dashboard_sign_in_required"


def dashboard_path(value: str | None, default: str = DASHBOARD_HOME) -> str:
    """Where to go after signing in: a dashboard or console page, nothing else."""
    path = local_path(value, default)
    return path if path.split("?")[0].startswith((DASHBOARD_HOME, ADMIN_HOME)) else default


def login_url(next_path: str) -> str:
    return f"{LOGIN_PATH}?{urlencode({'next': dashboard_path(next_path)})}"


class DashboardRoute(APIRoute):
    """A dashboard page: no (or a stale) session sends the browser to sign in; domain errors
    become pages with the way back to the dashboard."""

    home: tuple[str, str] = (DASHBOARD_HOME, "Back to the dashboard")

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        home = self.home

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except (DashboardSignInRequired, e.AuthenticationFailed):
                site: Site = request.app.state.site
                back = here(request) if request.method == "GET" else home[0]
                response = site.redirect(request, login_url(back))
                if DASHBOARD_COOKIE in request.cookies:
                    site.dashboard.clear(response)
                return response
            except RequestValidationError:
                return render_error(request, e.BadRequest(message="this link or form is incomplete or malformed"), home=home)
            except e.MemoryOSError as error:
                if page_for(error).status >= 500:
                    log.warning("page %s %s failed: %s", request.method, request.url.path, type(error).__name__)
                return render_error(request, error, home=home)

        return handle


class AdminRoute(DashboardRoute):
    home = (ADMIN_HOME, "Back to the operator console")


def start_session(site: Site, request: Request, response: Response, token: IssuedToken) -> None:
    site.dashboard.store(request, response, {"t": token.access_token})


def end_session(site: Site, response: Response) -> None:
    site.dashboard.clear(response)


def session_token(site: Site, request: Request) -> str | None:
    value = site.dashboard.read(request)
    token = value.get("t") if value else None
    return token if isinstance(token, str) else None


def member(request: Request, site: SiteDep, services: ServicesDep) -> Principal:
    """The signed-in dashboard member, authenticated as the API authenticates its JWT."""
    token = session_token(site, request)
    if token is None:
        raise DashboardSignInRequired("sign in to the dashboard")
    principal = services.identity.authenticate_request(authorization=f"Bearer {token}", x_api_key=None)
    if principal.kind != "user":
        raise DashboardSignInRequired("sign in to the dashboard")
    return principal


def maybe_member(request: Request, site: SiteDep, services: ServicesDep) -> Principal | None:
    try:
        return member(request, site, services)
    except (DashboardSignInRequired, e.AuthenticationFailed):
        return None


def operator(principal: Annotated[Principal, Depends(member)]) -> Principal:
    if not principal.is_operator:
        raise e.PermissionDenied("the operator console is for MemoryOS operators only")
    return principal


Member = Annotated[Principal, Depends(member)]
MaybeMember = Annotated[Principal | None, Depends(maybe_member)]
Operator = Annotated[Principal, Depends(operator)]


@dataclass(frozen=True)
class Account:
    """Who is signed in, for the page's header: address, organisation, role, the others."""

    email: str
    organisation: str | None
    role: str
    organisations: list[tuple[str, str, str]]  # (tenant public id, name, role)
    is_operator: bool


def account_of(services: Services, session: Session, principal: Principal) -> Account:
    described = services.identity.describe(session, principal)
    organisations = [(t.public_id, t.name, role) for t, role in services.identity.organisations(session, principal)]
    return Account(
        email=str(described.get("email") or ""),
        organisation=described.get("tenant_name"),
        role=principal.role,
        organisations=organisations,
        is_operator=principal.is_operator,
    )


def render_page(
    site: Site,
    request: Request,
    services: Services,
    session: Session,
    principal: Principal,
    *,
    tab: str,
    template: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
    flashes: list[Flash] | None = None,
) -> Response:
    """A dashboard page with the tabs the member's role may use and the account bar."""
    account = account_of(services, session, principal)
    tabs = [(key, label, path) for key, label, path, needs in TABS if needs is None or principal.may(needs)]
    values = {
        "tabs": tabs,
        "current_tab": tab,
        "account": account,
        "can": {permission.name.lower(): principal.may(permission) for permission in Permission},
        **(context or {}),
    }
    return site.render(request, template, values, status_code=status_code, flashes=flashes)


CONFIRMED = "yes"


def confirmed(value: object) -> bool:
    return isinstance(value, str) and value == CONFIRMED


def password_field(form: Any, name: str) -> str:
    """A password exactly as typed: not trimmed (a space may be part of it)."""
    value = form.get(name)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > 1024:
        raise e.BadRequest("invalid_form", f"the field {name} is not valid")
    return value
