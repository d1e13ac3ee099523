"""The route class of the API routers: who is calling is settled before the body is read.

FastAPI reads and decodes a JSON body before it solves a route's dependencies, so a caller
with no credential and a malformed body would get ``400 REQ_400`` rather than the refusal its
credential earns (``401 AUTH_001``, ``401 UUI_401``, ``403 UAT_001``), and a stranger could
probe the API's parsing without a key. A middleware would run early enough but outside the
error handlers and before routing, so it would not know which credential a route takes.
``AuthenticatedRoute`` runs the route's own authenticating dependencies (``deps.AUTHENTICATORS``,
found anywhere in its dependency tree) on the headers alone, first; the dependencies then reuse
the answer (``deps.authenticated``), so each credential is still checked once per request.

Then, for a route with a JSON body, the body must be UTF-8 with finite numbers
(``refuse_loose_json``) before FastAPI parses it; the request models take JSON's types as they
are (``api/schemas/common.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from memoryos_server.api.deps import AUTHENTICATORS
from memoryos_server.errors import BadRequest, ValidationFailed
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


def _no_constants(name: str) -> Any:
    raise LooseJson(name)


class LooseJson(ValueError):
    """A JSON number JSON does not have (NaN, Infinity), which Python's parser would take."""


async def refuse_loose_json(request: Request) -> None:
    """A body must be UTF-8 JSON (RFC 8259 §8.1) with finite numbers. Python's parser would
    otherwise read UTF-16 and UTF-32 too, and take ``NaN``/``Infinity``, which no database
    column or JSON answer can hold (stored as null, or a 500 on the way out). Malformed JSON
    is left to FastAPI's own 400."""
    body = await request.body()
    if not body:
        return
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("invalid_encoding", "the body must be JSON encoded as UTF-8") from None
    try:
        json.loads(text, parse_constant=_no_constants)
    except LooseJson as loose:
        message = f"{loose} is not a JSON number: give a finite number"
        raise ValidationFailed(message, details=[{"loc": ["body"], "msg": message, "type": "finite_number"}]) from None
    except ValueError:
        return  # malformed: FastAPI answers 400 malformed_json
    except RecursionError:
        # Arrays or objects nested thousands deep: Python's parser gives up (FastAPI's would too).
        raise BadRequest("malformed_json", "the body nests too deeply to be read") from None


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
        takes_json = self.body_field is not None
        if not first and not takes_json:
            return handler

        async def authenticate_then_handle(request: Request) -> Response:
            for authenticate in first:
                # Sync like the dependency itself: the check reads the database.
                await run_in_threadpool(authenticate, request)
            if takes_json:
                await refuse_loose_json(request)
            return await handler(request)

        return authenticate_then_handle
