"""``/``: what this server is, and where to go from here.

A person who opens the server's address finds the way to their Memory Passport; a developer
finds the API docs, the OpenAPI document and the health checks. Links to pages that exist only
in some set-ups (the dashboard) appear when their route is there.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request, Response
from starlette.routing import Match

from memoryos_server.web.deps import MaybeSignedIn, SiteDep
from memoryos_server.web.docs import DOCS_PATH
from memoryos_server.web.errors import WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)

DASHBOARD_PATH = "/dashboard"


def serves(request: Request, path: str) -> bool:
    """Whether this app answers ``GET path`` with a route (so a link to it leads somewhere),
    asked of the router itself: included routers are matched, not listed."""
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "path_params": {}, "app": request.app}
    return any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes)


@router.get("/")
def home(request: Request, site: SiteDep, caller: MaybeSignedIn) -> Response:
    return site.render(
        request,
        "home.html",
        {
            "signed_in": caller is not None,
            "dashboard_url": DASHBOARD_PATH if serves(request, DASHBOARD_PATH) else None,
            "docs_url": DOCS_PATH if serves(request, DOCS_PATH) else None,
            "openapi_url": request.app.openapi_url,
        },
    )


FAVICON = Path(__file__).resolve().parents[1] / "static" / "favicon.svg"


@router.get("/favicon.ico")
def favicon() -> Response:
    """The icon a browser asks for by itself (pages also name it): ours, not a 404."""
    return Response(FAVICON.read_bytes(), media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})
