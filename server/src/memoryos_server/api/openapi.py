"""What /openapi.json declares beyond what FastAPI derives: the security schemes, each
operation's credential (from the authenticating dependency its route uses), and our error
envelope for every error status.

FastAPI declares security only for its own ``fastapi.security`` dependencies; ours are the
``AuthenticatedRoute`` authenticators (api/deps.py), so the route class names them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from memoryos_server.api import deps

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "TenantApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "A tenant API key: `Authorization: ApiKey mem_…` (the end-user in `X-End-User-ID`).",
    },
    "TenantApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "`X-API-Key: mem_…`"},
    "Bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "A dashboard JWT from POST /v1/auth/login, or an OAuth client's token from POST /v1/oauth/token.",
    },
    "AgentKey": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "A Memory Passport agent's key: `Authorization: ApiKey agent_sk_…`.",
    },
    "PassportUUI": {
        "type": "apiKey",
        "in": "header",
        "name": "X-MemoryOS-UUI",
        "description": "The agent's own uui_… token for the person (from the consent code exchange).",
    },
    "PassportSession": {
        "type": "apiKey",
        "in": "header",
        "name": "X-MemoryOS-Session",
        "description": "A passport user's session (mps_…), from POST /v1/uui/otp/verify.",
    },
    "PassportCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": "memoryos_uui_session",
        "description": "The consent app's session cookie (changes must come from this site).",
    },
}

TENANT = [{"TenantApiKey": []}, {"TenantApiKeyHeader": []}, {"Bearer": []}]
SECURITY_OF: dict[Callable[..., Any], list[dict[str, list[str]]]] = {
    deps.get_principal: TENANT,
    deps.get_passport_caller: [{"PassportSession": []}, {"PassportCookie": []}],
    deps.get_agent: [{"AgentKey": []}],
    deps.get_agent_for_user: [{"AgentKey": [], "PassportUUI": []}],
}


def security_of(authenticators: list[Callable[..., Any]]) -> list[dict[str, list[str]]]:
    """The OpenAPI security requirement of a route with these authenticators ([] for public)."""
    requirement: list[dict[str, list[str]]] = []
    for authenticate in authenticators:
        requirement += SECURITY_OF.get(authenticate, [])
    return requirement


def install_openapi(app: FastAPI) -> None:
    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, description=app.description, routes=app.routes
            )
            schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]
