"""The consent app's pages, one router per area."""

from __future__ import annotations

from fastapi import APIRouter

from memoryos_server.errors import NotFound
from memoryos_server.web.errors import WebRoute
from memoryos_server.web.routes._dashboard import AdminRoute, DashboardRoute
from memoryos_server.web.routes import (
    admin_console,
    authorize,
    connect,
    consent,
    dashboard_auth,
    dashboard_connector,
    dashboard_console,
    dashboard_data,
    dashboard_passport,
    dashboard_sources,
    login,
    logos,
    manage_account,
    manage_agents,
    manage_memories,
    manage_sessions,
    organisations,
)

router = APIRouter(include_in_schema=False)
for module in (
    login, consent, authorize, connect, organisations, logos, manage_agents, manage_memories, manage_sessions, manage_account,
    dashboard_auth, dashboard_console, dashboard_passport, dashboard_data, dashboard_sources, dashboard_connector, admin_console,
):
    router.include_router(module.router)

# Last, so it only catches what no page above matched: a mistyped permission-center address
# gets a page, not the API's JSON 404.
_fallback = APIRouter(route_class=WebRoute, include_in_schema=False)


@_fallback.get("/manage/{rest:path}")
def no_such_page(rest: str) -> None:
    raise NotFound("there is no such page in your permission center")


_dashboard_fallback = APIRouter(route_class=DashboardRoute, include_in_schema=False)


@_dashboard_fallback.get("/dashboard/{rest:path}")
def no_such_dashboard_page(rest: str) -> None:
    raise NotFound("there is no such page in the dashboard")


_admin_fallback = APIRouter(route_class=AdminRoute, include_in_schema=False)


@_admin_fallback.get("/admin/{rest:path}")
def no_such_admin_page(rest: str) -> None:
    raise NotFound("there is no such page in the operator console")


router.include_router(_fallback)
router.include_router(_dashboard_fallback)
router.include_router(_admin_fallback)

__all__ = ["router"]
