"""The OAuth side of the Passport over MCP: discovery, registration, tokens, revocation.

Standards-shaped on purpose (``api/schemas/mcp_oauth.py`` says why they are not our envelope and
not in /openapi.json). Public: each authenticates its client itself, as the RFCs say. The
consent step, ``/authorize``, is a page (``web/routes/authorize.py``); ``/mcp`` itself is mounted
by the app (``memoryos_server/mcp/remote.py``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from memoryos_server.api.deps import ServicesDep
from memoryos_server.api.schemas.mcp_oauth import (
    AuthorizationServerMetadataOut,
    ClientRegistrationOut,
    OAuthErrorOut,
    ProtectedResourceMetadataOut,
    TokenOut,
)
from memoryos_server.clientip import ClientIp
from memoryos_server.errors import OAuthError, RateLimited

router = APIRouter(include_in_schema=False)
T = TypeVar("T")

# What a browser-based MCP client may read from another origin: public documents and the
# endpoints it calls with its own credentials (never a cookie).
_CORS = {"Access-Control-Allow-Origin": "*"}
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _answer(model: type[Any], content: dict[str, Any], *, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    body = model.model_validate(content).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status, headers={**_CORS, **(headers or {})})


def _error(error: OAuthError) -> JSONResponse:
    headers = dict(_NO_STORE)
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="memoryos"'
    return _answer(OAuthErrorOut, {"error": error.error, "error_description": error.description}, status=error.status, headers=headers)


def _rate_limited(error: RateLimited) -> JSONResponse:
    body = {"error": "temporarily_unavailable", "error_description": f"too many requests; retry after {error.retry_after_seconds} s"}
    return _answer(OAuthErrorOut, body, status=429, headers={**_NO_STORE, "Retry-After": str(error.retry_after_seconds)})


async def _call(work: Callable[[], T]) -> T | JSONResponse:
    try:
        return await run_in_threadpool(work)
    except OAuthError as error:
        return _error(error)
    except RateLimited as error:
        return _rate_limited(error)


async def _form(request: Request) -> dict[str, str]:
    """The form fields, each given once (RFC 6749 §3.2: a parameter must not repeat)."""
    form = await request.form()
    fields: dict[str, str] = {}
    for key, value in form.multi_items():
        if not isinstance(value, str) or key in fields or len(value) > 4000:
            raise OAuthError("invalid_request", f"the parameter {key[:40]!r} is repeated, too long or not text")
        fields[key] = value
    return fields


@router.get("/.well-known/oauth-authorization-server", response_model=AuthorizationServerMetadataOut)
def authorization_server_metadata(services: ServicesDep) -> JSONResponse:
    return _answer(AuthorizationServerMetadataOut, services.mcp_auth.authorization_server_metadata())


@router.get("/.well-known/oauth-protected-resource", response_model=ProtectedResourceMetadataOut)
@router.get("/.well-known/oauth-protected-resource/mcp", response_model=ProtectedResourceMetadataOut)
def protected_resource_metadata(services: ServicesDep) -> JSONResponse:
    return _answer(ProtectedResourceMetadataOut, services.mcp_auth.protected_resource_metadata())


@router.post("/register", status_code=201, response_model=ClientRegistrationOut)
async def register_client(request: Request, services: ServicesDep, ip: ClientIp) -> Response:
    """RFC 7591 dynamic client registration."""
    try:
        metadata = json.loads(await request.body())
    except (ValueError, RecursionError):  # RecursionError: nested too deeply to read
        return _error(OAuthError("invalid_client_metadata", "the body is not JSON"))
    registered = await _call(lambda: services.mcp_clients.register(metadata, ip=ip))
    if isinstance(registered, JSONResponse):
        return registered
    client = registered.view.client
    body = {
        "client_id": client.client_id,
        "client_secret": registered.client_secret,
        "client_id_issued_at": int(client.created_at.astimezone(UTC).timestamp()),
        "client_secret_expires_at": 0 if registered.client_secret else None,
        "client_name": registered.view.name,
        "redirect_uris": list(client.redirect_uris),
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "scope": client.scope,
        "client_uri": client.client_uri,
        "software_id": client.software_id,
        "software_version": client.software_version,
    }
    return _answer(ClientRegistrationOut, body, status=201, headers=_NO_STORE)


@router.post("/token", response_model=TokenOut)
async def token(request: Request, services: ServicesDep, ip: ClientIp) -> Response:
    """RFC 6749 §4.1.3 (authorization code, with the PKCE verifier) and §6 (refresh, rotated)."""
    try:
        form = await _form(request)
    except OAuthError as error:
        return _error(error)
    authorization = request.headers.get("authorization")
    issued = await _call(lambda: services.mcp_auth.token(form, authorization=authorization, ip=ip))
    if isinstance(issued, JSONResponse):
        return issued
    body = {
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "refresh_token": issued.refresh_token,
        "scope": issued.scope,
    }
    return _answer(TokenOut, body, headers=_NO_STORE)


@router.post("/revoke")
async def revoke(request: Request, services: ServicesDep, ip: ClientIp) -> Response:
    """RFC 7009: 200 whether or not the token was known."""
    try:
        form = await _form(request)
    except OAuthError as error:
        return _error(error)
    authorization = request.headers.get("authorization")
    done = await _call(lambda: services.mcp_auth.revoke(form, authorization=authorization, ip=ip))
    if isinstance(done, JSONResponse):
        return done
    return Response(status_code=200, headers={**_CORS, **_NO_STORE})




@router.options("/register")
@router.options("/token")
@router.options("/revoke")
@router.options("/.well-known/oauth-authorization-server")
@router.options("/.well-known/oauth-protected-resource")
@router.options("/.well-known/oauth-protected-resource/mcp")
def preflight() -> Response:
    """CORS preflight: a browser-based MCP client may call these from its own origin (with its own
    credentials in the request, never a cookie)."""
    headers = {
        **_CORS,
        "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
        "Access-Control-Allow-Headers": "Authorization, Content-Type, MCP-Protocol-Version",
        "Access-Control-Max-Age": "600",
    }
    return Response(status_code=204, headers=headers)
