"""Global agents: registration, the public profile, key rotation, deletion, operator review."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from memoryos_server.services.runtime import Runtime
from tests.fixtures.factories import TenantHandle, operator_headers
from tests.fixtures.passport import connected, create_agent, exchange, new_agent, new_passport  # noqa: F401

PUBLIC_FIELDS = {
    "id",
    "name",
    "description",
    "logo_url",
    "has_logo",
    "website_url",
    "is_verified",
    "verification_status",
    "default_categories_requested",
}


@pytest.fixture
def operator(client: TestClient) -> dict[str, str]:
    return operator_headers(client)


def test_create_with_the_seed_body_returns_the_key_once(client: TestClient, tenant: TenantHandle) -> None:
    body = {
        "name": "Support Copilot",
        "description": "Customer support agent with access to approved user context.",
        "website_url": "https://yourapp.com",
        "logo_url": "https://yourapp.com/logo.png",
        "default_categories_requested": ["preference", "fact", "goal"],
        "redirect_uri": "",
    }
    response = client.post("/v1/agents/global", json=body, headers=tenant.key_headers())
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    uuid.UUID(data["id"])
    assert data["raw_agent_api_key"].startswith("agent_sk_")
    assert data["owner_tenant_id"] == tenant.tenant_id
    assert data["is_verified"] is False and data["verification_status"] == "pending"
    assert data["is_active"] is True and data["redirect_uri"] == "" and data["created_at"]
    assert data["default_categories_requested"] == ["preference", "fact", "goal"]

    listed = client.get("/v1/agents/global", headers=tenant.jwt_headers()).json()["data"]
    assert [a["id"] for a in listed] == [data["id"]]
    assert "raw_agent_api_key" not in listed[0]
    assert data["raw_agent_api_key"] not in str(listed)


def test_jwt_callers_need_the_agents_permission(client: TestClient, tenant: TenantHandle) -> None:
    created = client.post("/v1/agents/global", json={"name": "By owner"}, headers=tenant.jwt_headers())
    assert created.status_code == 201
    developer = tenant.add_member("developer")
    assert client.post("/v1/agents/global", json={"name": "By dev"}, headers=developer.headers()).status_code == 201
    viewer = tenant.add_member("viewer")
    refused = client.post("/v1/agents/global", json={"name": "By viewer"}, headers=viewer.headers())
    assert refused.status_code == 403 and refused.json()["code"] == "AUTH_003"
    assert client.post("/v1/agents/global", json={"name": "Anonymous"}).json()["code"] == "AUTH_001"


@pytest.mark.parametrize(
    "field, value",
    [
        ("redirect_uri", "http://example.com/callback"),
        ("redirect_uri", "ftp://example.com/x"),
        ("redirect_uri", "not a url"),
        ("redirect_uri", "https://example.com/cb#fragment"),
        ("redirect_uris", ["https://ok.example.com/cb", "http://evil.example.com/cb"]),
        ("website_url", "javascript:alert(1)"),
        ("logo_url", "http://cdn.example.com/logo.png"),
        ("default_categories_requested", ["preference", "secrets"]),
        ("name", "Nul\x00Agent"),
        ("name", "Two\nLines"),
        ("description", "nul \x00 inside"),
        ("website_url", "https://exa\x00mple.com"),
        ("redirect_uri", "https://example.com:99999/cb"),
        ("redirect_uri", "https://user:pw@example.com/cb"),
    ],
)
def test_bad_fields_are_refused_and_create_nothing(client: TestClient, tenant: TenantHandle, field: str, value: object) -> None:
    response = client.post("/v1/agents/global", json={"name": "Bad", field: value}, headers=tenant.key_headers())
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "REQ_422"
    assert client.get("/v1/agents/global", headers=tenant.key_headers()).json()["data"] == []


def test_redirect_uris_accept_https_and_local_http(client: TestClient, tenant: TenantHandle) -> None:
    response = client.post(
        "/v1/agents/global",
        json={
            "name": "Local dev",
            "redirect_uri": "http://localhost:3000/cb",
            "redirect_uris": ["http://127.0.0.1:8000/cb", "https://app.example.com/cb", "http://localhost:3000/cb"],
        },
        headers=tenant.key_headers(),
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert data["redirect_uri"] == "http://localhost:3000/cb"
    assert data["redirect_uris"] == ["http://localhost:3000/cb", "http://127.0.0.1:8000/cb", "https://app.example.com/cb"]


def test_the_public_profile_needs_no_credentials_and_shows_only_public_fields(client: TestClient, tenant: TenantHandle) -> None:
    agent = create_agent(tenant, description="Helps", website_url="https://a.example.com", default_categories_requested=["goal"])
    response = client.get(f"/v1/agents/global/{agent.id}")
    assert response.status_code == 200
    data = response.json()["data"]
    assert set(data) == PUBLIC_FIELDS
    assert data["name"] == agent.body["name"] and data["default_categories_requested"] == ["goal"]
    assert client.get(f"/v1/agents/global/{agent.id.upper()}").json()["data"]["id"] == agent.id
    for unknown in (str(uuid.uuid4()), "not-a-uuid", "1' OR '1'='1"):
        missing = client.get(f"/v1/agents/global/{unknown}")
        assert missing.status_code == 404 and missing.json()["code"] == "AGN_404", unknown
    # A NUL can name nothing: refused before any route runs, like everywhere else.
    nul = client.get("/v1/agents/global/%00")
    assert nul.status_code == 422 and nul.json()["code"] == "REQ_422"


def test_a_tenant_sees_and_changes_only_its_own_agents(client: TestClient, new_tenant) -> None:  # type: ignore[no-untyped-def]
    a, b = new_tenant("A"), new_tenant("B")
    agent = create_agent(a)
    assert client.get("/v1/agents/global", headers=b.key_headers()).json()["data"] == []
    for method, path in (
        ("PATCH", f"/v1/agents/global/{agent.id}"),
        ("POST", f"/v1/agents/global/{agent.id}/rotate-key"),
        ("DELETE", f"/v1/agents/global/{agent.id}"),
    ):
        response = client.request(method, path, json={"name": "Taken"} if method == "PATCH" else None, headers=b.key_headers())
        assert response.status_code == 404 and response.json()["code"] == "AGN_404", (method, path)
    assert client.get(f"/v1/agents/global/{agent.id}").json()["data"]["name"] == agent.body["name"]


def test_patch_changes_fields_and_a_new_name_goes_back_to_review(
    client: TestClient, tenant: TenantHandle, operator: dict[str, str]
) -> None:
    agent = create_agent(tenant)
    verified = client.post(f"/v1/admin/agents/{agent.id}/verification", json={"decision": "verified"}, headers=operator)
    assert verified.status_code == 200 and verified.json()["data"]["is_verified"] is True
    described = client.patch(
        f"/v1/agents/global/{agent.id}", json={"description": "Now with a description"}, headers=tenant.key_headers()
    ).json()["data"]
    assert described["description"] == "Now with a description" and described["verification_status"] == "verified"
    renamed = client.patch(f"/v1/agents/global/{agent.id}", json={"name": "Bank Of Everyone"}, headers=tenant.key_headers())
    assert renamed.status_code == 200
    assert renamed.json()["data"]["verification_status"] == "pending"
    bad = client.patch(f"/v1/agents/global/{agent.id}", json={"website_url": "http://insecure.example.com"}, headers=tenant.key_headers())
    assert bad.status_code == 422
    unknown_field = client.patch(f"/v1/agents/global/{agent.id}", json={"owner_tenant_id": "ten_x"}, headers=tenant.key_headers())
    assert unknown_field.status_code == 422


def test_rotating_the_key_makes_the_old_one_fail_at_once(client: TestClient, tenant: TenantHandle) -> None:
    agent = create_agent(tenant)
    probe = {"external_user_id": "someone"}
    assert client.post("/v1/universal/users/resolve", json=probe, headers=agent.headers()).status_code == 200
    rotated = client.post(f"/v1/agents/global/{agent.id}/rotate-key", headers=tenant.key_headers())
    assert rotated.status_code == 200
    new_key = rotated.json()["data"]["raw_agent_api_key"]
    assert new_key.startswith("agent_sk_") and new_key != agent.key
    old = client.post("/v1/universal/users/resolve", json=probe, headers=agent.headers())
    assert old.status_code == 403 and old.json() | {"request_id": "", "timestamp": ""} == {
        "error": "cross_agent_auth_failed",
        "code": "UAT_001",
        "request_id": "",
        "timestamp": "",
        "details": None,
        "message": "cross agent auth failed",
    }
    fresh = client.post("/v1/universal/users/resolve", json=probe, headers={"Authorization": f"ApiKey {new_key}"})
    assert fresh.status_code == 200


def test_deleting_an_agent_ends_its_grants_and_uuis(client: TestClient, connected) -> None:  # type: ignore[no-untyped-def]
    agent, passport, uui = connected(["preference"])
    assert client.get("/v1/universal/grant", headers=agent.headers(uui)).status_code == 200
    deleted = client.delete(f"/v1/agents/global/{agent.id}", headers=agent.tenant.key_headers())
    assert deleted.status_code == 200 and deleted.json()["data"]["deleted"] is True
    assert client.get("/v1/universal/grant", headers=agent.headers(uui)).json()["code"] == "UAT_001"
    assert client.get(f"/v1/agents/global/{agent.id}").status_code == 404
    assert client.get("/v1/agents/global", headers=agent.tenant.key_headers()).json()["data"] == []
    assert client.get("/v1/uui/me/grants", headers=passport.headers()).json()["data"] == []
    again = client.post(
        "/v1/uui/me/grants", json={"agent_id": agent.id, "categories_allowed": ["goal"]}, headers=passport.headers()
    )
    assert again.status_code == 404 and again.json()["code"] == "AGN_404"


def test_operator_review_queue_and_decisions(
    client: TestClient, tenant: TenantHandle, operator: dict[str, str]
) -> None:
    agent = create_agent(tenant)
    pending = client.get("/v1/admin/agents", params={"status": "pending"}, headers=operator)
    assert pending.status_code == 200
    row = next(item for item in pending.json()["data"] if item["id"] == agent.id)
    assert row["owner_tenant_id"] == tenant.tenant_id and row["verification_status"] == "pending"

    rejected = client.post(
        f"/v1/admin/agents/{agent.id}/verification", json={"decision": "rejected", "note": "impersonation"}, headers=operator
    )
    assert rejected.status_code == 200
    assert rejected.json()["data"]["verification_status"] == "rejected"
    assert rejected.json()["data"]["verification_note"] == "impersonation"
    # A rejected agent's key no longer works.
    refused = client.post("/v1/universal/users/resolve", json={"external_user_id": "x"}, headers=agent.headers())
    assert refused.json()["code"] == "UAT_001"
    listed = client.get("/v1/admin/agents", params={"status": "rejected"}, headers=operator).json()["data"]
    assert agent.id in [item["id"] for item in listed]

    assert client.post(
        f"/v1/admin/agents/{agent.id}/verification", json={"decision": "maybe"}, headers=operator
    ).status_code == 422
    assert client.post(
        f"/v1/admin/agents/{uuid.uuid4()}/verification", json={"decision": "verified"}, headers=operator
    ).json()["code"] == "AGN_404"


def test_only_operators_review_agents(client: TestClient, tenant: TenantHandle) -> None:
    agent = create_agent(tenant)
    for headers in (tenant.jwt_headers(), tenant.key_headers()):
        assert client.get("/v1/admin/agents", headers=headers).json()["code"] == "AUTH_003"
        decided = client.post(f"/v1/admin/agents/{agent.id}/verification", json={"decision": "verified"}, headers=headers)
        assert decided.status_code == 403
    assert client.get("/v1/admin/agents").json()["code"] == "AUTH_001"
    assert client.get(f"/v1/agents/global/{agent.id}").json()["data"]["verification_status"] == "pending"


def test_set_verification_for_the_cli(runtime: Runtime, tenant: TenantHandle, client: TestClient) -> None:
    from memoryos_server.services.container import build_services

    agent = create_agent(tenant)
    with runtime.db.session() as session:
        build_services(runtime).agents.set_verification(session, agent.id, "verified", "checked by hand", actor="cli")
    assert client.get(f"/v1/agents/global/{agent.id}").json()["data"]["is_verified"] is True
