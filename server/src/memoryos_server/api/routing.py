"""The route class of the API routers: who is calling is settled before the body is read.

FastAPI reads and decodes a JSON body before it solves a route's dependencies, so a caller
with no credential and a malformed body would get ``400 REQ_400`` rather than the refusal its
credential earns (``401 AUTH_001``, ``401 UUI_401``, ``403 UAT_001``), and a stranger could
probe the API's parsing without a key. A middleware would run early enough but outside the
error handlers and before routing, so it would not know which credential a route takes.
``AuthenticatedRoute`` runs the route's own authenticating dependencies (``deps.AUTHENTICATORS``,
found anywhere in its dependency tree) on the headers alone, first; the dependencies then reuse
the answer (``deps.authenticated``), so each credential is still checked once per request.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from memoryos_server.api.deps import AUTHENTICATORS
from memoryos_server.api.envelope import ERROR_RESPONSES
from memoryos_server.api.openapi import security_of


def authenticators_of(dependant: Dependant) -> list[Callable[[Request], Any]]:
    """The authenticating dependencies a route depends on, in declaration order, each once."""
    found: list[Callable[[Request], Any]] = []

    def walk(node: Dependant) -> None:
        for dependency in node.dependencies:
            if dependency.call in AUTHENTICATORS and dependency.call not in found:
                found.append(dependency.call)
            walk(dependency)

    walk(dependant)
    return found


class AuthenticatedRoute(APIRoute):
    """Also what /openapi.json says of the route: the credential its authenticators take
    (``security``, unless the route states its own) and our error envelope for every error."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        kwargs["responses"] = {**ERROR_RESPONSES, **(kwargs.get("responses") or {})}
        super().__init__(path, endpoint, **kwargs)
        extra = dict(self.openapi_extra or {})
        extra.setdefault("security", security_of(authenticators_of(self.dependant)))
        self.openapi_extra = extra

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        first = authenticators_of(self.dependant)
        if not first:
            return handler

        async def authenticate_then_handle(request: Request) -> Response:
            for authenticate in first:
                # Sync like the dependency itself: the check reads the database.
                await run_in_threadpool(authenticate, request)
            return await handler(request)

        return authenticate_then_handle
