"""The consent app's pages, one router per area."""

from __future__ import annotations

from fastapi import APIRouter

from memoryos_server.errors import NotFound
from memoryos_server.web.errors import WebRoute
from memoryos_server.web.routes import (
    authorize,
    connect,
    consent,
    login,
    logos,
    manage_account,
    manage_agents,
    manage_memories,
    manage_sessions,
    organisations,
)

router = APIRouter(include_in_schema=False)
for module in (login, consent, authorize, connect, organisations, logos, manage_agents, manage_memories, manage_sessions, manage_account):
    router.include_router(module.router)

# Last, so it only catches what no page above matched: a mistyped permission-center address
# gets a page, not the API's JSON 404.
_fallback = APIRouter(route_class=WebRoute, include_in_schema=False)


@_fallback.get("/manage/{rest:path}")
def no_such_page(rest: str) -> None:
    raise NotFound("there is no such page in your permission center")


router.include_router(_fallback)

__all__ = ["router"]
