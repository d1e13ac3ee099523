"""Pure ASGI middleware: request ids, body size limit, metrics, response headers."""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any
from urllib.parse import parse_qsl, quote, unquote_to_bytes

from prometheus_client import Counter, Histogram
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from memoryos_server.request_context import new_request_id, reset_request_id, set_request_id
from memoryos_server.api.envelope import error_body
from memoryos_server.api.schemas.common import UNSTORABLE_MESSAGE, is_storable

REQUESTS = Counter("memoryos_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "memoryos_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

access_log = logging.getLogger("memoryos.access")
error_log = logging.getLogger("memoryos.api")

_TENANT_HEADERS = [(b"x-memoryos-quota-mode", b"FULL"), (b"x-memoryos-processing", b"normal")]


class _BodyTooLarge(HTTPException):
    """An HTTPException so FastAPI's body parsing re-raises it instead of calling it malformed."""

    def __init__(self) -> None:
        super().__init__(status_code=413)


class RequestContextMiddleware:
    """Gives each request an id (echoed as X-Request-ID), measures it, adds the API's headers.

    It is also where an unexpected exception ends: logged once, with its traceback and the
    request id, and answered 500 SRV_500 carrying the same id in header and body (no trace).
    Handling it here, inside the request's context, rather than in Starlette's outermost
    error middleware is what keeps the three ids one and the traceback logged once.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        token = set_request_id(request_id)
        started = time.perf_counter()
        status_holder: dict[str, int] = {"status": 500, "started": 0}
        is_api = scope["path"].startswith("/v1/")

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = 1
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                if is_api:
                    headers.extend(_TENANT_HEADERS)
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as error:  # noqa: BLE001 — the one place every unexpected error ends up
            error_log.error(
                "unhandled %s on %s %s",
                type(error).__name__,
                scope["method"],
                loggable_target(scope),
                exc_info=error,
                extra={"request_id": request_id},
            )
            if not status_holder["started"]:
                await _send_json(send_wrapper, 500, error_body(
                    "internal_error", "SRV_500", message="something went wrong on our side"
                ))
            # Not re-raised: the server would log the same traceback again, without the id.
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            elapsed = time.perf_counter() - started
            REQUESTS.labels(scope["method"], template, str(status_holder["status"])).inc()
            LATENCY.labels(scope["method"], template).observe(elapsed)
            _log_access(scope, status_holder["status"], elapsed)
            reset_request_id(token)


# A query parameter's name is logged when it looks like one; anything else might be a bare secret.
_PARAMETER_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-\[\]]{0,31}$")


def loggable_target(scope: Scope) -> str:
    """The path as sent, and of the query only the parameter names: values may be secrets
    (``link_token``, ``code``, ``state``), so ``/connect?agent_id=a&link_token=plink_…`` is
    logged as ``/connect?agent_id&link_token``."""
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else quote(scope.get("path", ""))
    query = scope.get("query_string", b"").decode("latin-1")
    if not query:
        return path
    names = [name if _PARAMETER_NAME.match(name) else "[redacted]" for name, _ in parse_qsl(query, keep_blank_values=True)]
    return f"{path}?{'&'.join(names)}" if names else f"{path}?"


def _log_access(scope: Scope, status: int, elapsed: float) -> None:
    if not access_log.isEnabledFor(logging.INFO):
        return
    client = scope.get("client")
    address = f"{client[0]}:{client[1]}" if client else "-"
    target = loggable_target(scope)
    access_log.info(
        '%s "%s %s" %d %.1fms',
        address,
        scope["method"],
        target,
        status,
        elapsed * 1000,
        extra={"client": address, "method": scope["method"], "target": target, "status": status, "duration_ms": round(elapsed * 1000, 1)},
    )


class StorableTextMiddleware:
    """Refuses, with 422 REQ_422 before any route runs, a path, query or header value holding
    text no database can store (NUL, unpaired surrogates), and with 400 REQ_400 a query whose
    percent-escapes are not UTF-8 (``?cursor=%FF%FE``). JSON bodies are checked by the
    request-schema base class (``api/schemas/common.py``), form fields by ``StorableStr``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if not _query_is_utf8(scope):
                await _send_json(send, 400, error_body(
                    "invalid_encoding", "REQ_400", message="the query string's escapes are not UTF-8"
                ))
                return
            problems = _unstorable_parts(scope)
            if problems:
                await _send_json(send, 422, error_body(
                    "validation_error", "REQ_422", details=problems, message="the request is not valid"
                ))
                return
        await self.app(scope, receive, send)


def _query_is_utf8(scope: Scope) -> bool:
    query: bytes = scope.get("query_string", b"")
    if b"%" not in query and query.isascii():
        return True  # the cheap test first: most queries are plain ASCII without escapes
    try:
        for part in query.split(b"&"):
            unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _unstorable_parts(scope: Scope) -> list[dict[str, Any]]:
    def problem(*loc: str) -> dict[str, Any]:
        return {"loc": list(loc), "msg": UNSTORABLE_MESSAGE, "type": "string_unstorable"}

    found: list[dict[str, Any]] = []
    if not is_storable(scope.get("path", "")):
        found.append(problem("path"))
    query = scope.get("query_string", b"").decode("latin-1")
    if "%00" in query or "\x00" in query:  # the cheap test first: most queries have no NUL at all
        for name, value in parse_qsl(query, keep_blank_values=True):
            if not (is_storable(name) and is_storable(value)):
                found.append(problem("query", name if is_storable(name) else "?"))
    for name, value in scope.get("headers", []):
        if b"\x00" in value or b"\x00" in name:
            found.append(problem("header", name.replace(b"\x00", b"?").decode("latin-1")))
    return found


class BodyLimitMiddleware:
    """Refuses bodies over the limit with 413 REQ_413 before the app reads them whole."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _send_413(send, self.max_bytes)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await _send_413(send, self.max_bytes)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _send_413(send: Send, limit: int) -> None:
    body: dict[str, Any] = error_body(
        "payload_too_large", "REQ_413", details={"max_bytes": limit}, message="the request body is too large"
    )
    await _send_json(send, 413, body)


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})
