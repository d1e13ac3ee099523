"""SPEC §8: bad input on every Memory Passport route is a clear 4xx in the envelope, never a 500."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.passport import connected, new_agent, new_passport  # noqa: F401

BAD_BODIES: list[object] = [
    b"{",
    b"null",
    b"[]",
    b'"text"',
    {"unexpected": True},
    {"agent_id": 12, "categories_allowed": [None], "code": {"a": 1}, "email": 5, "query": ["x"], "messages": [1]},
    {"agent_id": "x" * 10_000, "external_user_id": "\x00", "code": "c" * 5000, "otp": "\u202e123456"},
]


@pytest.fixture
def routes(connected, client: TestClient) -> list[tuple[str, str, dict[str, str]]]:  # type: ignore[no-untyped-def]
    agent, person, uui = connected(["fact"], "read_write")
    grant_id = client.get("/v1/uui/me/grants", headers=person.headers()).json()["data"][0]["id"]
    tenant, user, agent_user = agent.tenant.key_headers(), person.headers(), agent.headers(uui)
    return [
        ("POST", "/v1/agents/global", tenant),
        ("PATCH", f"/v1/agents/global/{agent.id}", tenant),
        ("POST", "/v1/tenant/memory-passport/link-token", tenant),
        ("POST", "/v1/uui/otp/send", {}),
        ("POST", "/v1/uui/otp/verify", {}),
        ("POST", "/v1/uui/me/grants", user),
        ("PATCH", f"/v1/uui/me/grants/{grant_id}", user),
        ("POST", "/v1/uui/me/memories/00000000-0000-0000-0000-000000000000/correct", user),
        ("POST", "/v1/uui/me/clarifications/x/answer", user),
        ("POST", "/v1/universal/consent/exchange", agent.headers()),
        ("POST", "/v1/universal/users/resolve", agent.headers()),
        ("POST", "/v1/universal/memories/retrieve", agent_user),
        ("POST", "/v1/universal/memories/add", agent_user),
    ]


def test_bad_bodies(client: TestClient, routes) -> None:  # type: ignore[no-untyped-def]
    for method, path, headers in routes:
        for body in BAD_BODIES:
            if isinstance(body, bytes):
                response = client.request(method, path, content=body, headers={**headers, "Content-Type": "application/json"})
            else:
                response = client.request(method, path, json=body, headers=headers)
            assert 400 <= response.status_code < 500, (method, path, body, response.status_code, response.text)
            payload = response.json()
            assert payload["code"] and payload["error"] and payload["request_id"], (method, path)


def test_bad_ids_and_queries(client: TestClient, connected) -> None:  # type: ignore[no-untyped-def]
    agent, person, uui = connected(["fact"])
    weird = ["%00", "..%2F..%2Fetc", "x" * 300, "' OR 1=1 --", "😀"]
    for value in weird:
        for method, path, headers in (
            ("GET", f"/v1/agents/global/{value}", {}),
            ("POST", f"/v1/agents/global/{value}/rotate-key", agent.tenant.key_headers()),
            ("DELETE", f"/v1/uui/me/grants/{value}", person.headers()),
            ("POST", f"/v1/uui/me/grants/{value}/code", person.headers()),
            ("DELETE", f"/v1/uui/me/connections/{value}", person.headers()),
            ("GET", f"/v1/uui/me/memories/{value}", person.headers()),
            ("GET", f"/v1/universal/memories/jobs/{value}", agent.headers(uui)),
        ):
            response = client.request(method, path, headers=headers)
            assert 400 <= response.status_code < 500, (method, path, response.status_code, response.text)
    for params in ({"limit": 0}, {"limit": "many"}, {"cursor": "abc"}, {"cursor": "9" * 30}):
        response = client.get("/v1/uui/me/activity", params=params, headers=person.headers())
        assert 400 <= response.status_code < 500, (params, response.text)
    for header in ("uui_" + "x" * 5000, "uui_\u00e9".encode("latin-1"), " "):
        response = client.get("/v1/universal/grant", headers={"Authorization": f"ApiKey {agent.key}", "X-MemoryOS-UUI": header})
        assert response.status_code == 403
    assert client.get("/v1/uui/me", headers={"X-MemoryOS-Session": "mps_" + "x" * 5000}).status_code == 401
