"""Who is calling is settled before the body is read: a caller without a valid credential gets
the refusal its credential earns (403 UAT_001, 401 UUI_401, 401 AUTH_001) whatever it sends,
malformed JSON included. Walks every route of the app, so a new one cannot slip past."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from memoryos_server.api.deps import get_agent, get_agent_for_user, get_passport_caller, get_principal
from memoryos_server.api.routing import AuthenticatedRoute, authenticators_of
from tests.fixtures.factories import TenantHandle
from tests.fixtures.passport import AgentHandle, PassportHandle, new_agent, new_passport  # noqa: F401

REFUSAL = {
    get_agent: (403, "UAT_001"),
    get_agent_for_user: (403, "UAT_001"),
    get_passport_caller: (401, "UUI_401"),
    get_principal: (401, "AUTH_001"),
}
BODIES = ['{"bad', "{", '{"query": 5', "[]", '{"query": 5}', "not json at all"]
PLACEHOLDER = "00000000-0000-0000-0000-000000000000"


def api_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """(full path, route) of every API route, through included routers (FastAPI keeps those
    as wrappers in ``app.routes``)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from api_routes(inner.routes, prefix + getattr(getattr(route, "include_context", None), "prefix", ""))


def _routes_with_a_body(app: FastAPI) -> Iterator[tuple[str, str, Callable[..., object]]]:
    for full_path, route in api_routes(app.routes):
        if route.body_field is None:
            continue
        authenticators = authenticators_of(route.dependant)
        if not authenticators:
            continue
        path = re.sub(r"\{[^}]+\}", PLACEHOLDER, full_path)
        for method in sorted(route.methods):
            yield method, path, authenticators[0]


def test_every_authenticated_api_route_authenticates_first(app: FastAPI) -> None:
    routes = list(api_routes(app.routes))
    assert len(routes) > 50  # the walk reaches the routers' routes
    plain = [
        path for path, route in routes if authenticators_of(route.dependant) and not isinstance(route, AuthenticatedRoute)
    ]
    assert plain == [], f"routes that read the body before checking the caller: {plain}"


def test_the_walk_sees_every_kind_of_caller(app: FastAPI) -> None:
    kinds = {authenticator for _, _, authenticator in _routes_with_a_body(app)}
    assert kinds == set(REFUSAL)
    paths = {path for _, path, _ in _routes_with_a_body(app)}
    assert {"/v1/universal/memories/retrieve", "/v1/universal/memories/add", "/v1/universal/consent/exchange"} <= paths


@pytest.mark.parametrize("body", BODIES)
def test_no_credential_and_any_body_is_refused_for_the_credential(app: FastAPI, client: TestClient, body: str) -> None:
    wrong = []
    for method, path, authenticator in _routes_with_a_body(app):
        response = client.request(method, path, content=body, headers={"Content-Type": "application/json"})
        status, code = REFUSAL[authenticator]
        if response.status_code != status or response.json().get("code") != code:
            wrong.append(f"{method} {path}: {response.status_code} {response.text[:120]}")
    assert wrong == []


def test_a_made_up_or_half_credential_with_a_malformed_body_is_refused(
    client: TestClient, tenant: TenantHandle, new_agent: Callable[..., AgentHandle]
) -> None:
    agent = new_agent()
    malformed = {"content": '{"query": ', "headers": {"Content-Type": "application/json"}}
    cases = [
        ("/v1/universal/memories/retrieve", {"Authorization": "ApiKey agent_sk_" + "x" * 40, "X-MemoryOS-UUI": "uui_x"}),
        ("/v1/universal/memories/retrieve", {"Authorization": f"ApiKey {agent.key}"}),  # no UUI
        ("/v1/universal/memories/add", {"Authorization": f"ApiKey {agent.key}", "X-MemoryOS-UUI": "uui_" + "y" * 40}),
        ("/v1/universal/memories/add", {"Authorization": f"ApiKey {tenant.api_key}", "X-MemoryOS-UUI": "uui_x"}),
        ("/v1/universal/users/resolve", {"Authorization": f"Bearer {agent.key}"}),
    ]
    for path, headers in cases:
        response = client.post(path, content=malformed["content"], headers={**malformed["headers"], **headers})
        assert (response.status_code, response.json()["code"]) == (403, "UAT_001"), (path, headers, response.text)
        assert response.json()["error"] == "cross_agent_auth_failed"
    for path, headers in [
        ("/v1/uui/me/grants", {"X-MemoryOS-Session": "mps_" + "z" * 43}),
        ("/v1/memories/add", {"Authorization": "ApiKey mem_" + "z" * 40, "X-End-User-ID": "alice"}),
    ]:
        response = client.post(path, content=malformed["content"], headers={**malformed["headers"], **headers})
        assert response.status_code == 401, (path, response.text)


def test_an_authenticated_caller_still_gets_the_body_error(
    client: TestClient, tenant: TenantHandle, new_agent: Callable[..., AgentHandle], new_passport: Callable[..., PassportHandle]
) -> None:
    agent = new_agent()
    passport = new_passport()
    json_type = {"Content-Type": "application/json"}
    checks = [
        ("/v1/universal/users/resolve", agent.headers()),
        ("/v1/uui/me/grants", passport.headers()),
        ("/v1/memories/add", tenant.key_headers("alice")),
    ]
    for path, headers in checks:
        response = client.post(path, content='{"bad', headers={**json_type, **headers})
        assert (response.status_code, response.json()["code"]) == (400, "REQ_400"), (path, response.text)
