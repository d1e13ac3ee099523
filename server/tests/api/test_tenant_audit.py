"""Erasing an end-user leaves a record on the organisation's side (``GET /v1/tenant/audit``):
who did it, when, how many memories went — never the memories, never the tenant's own id for
the end-user (both databases)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.fixtures.factories import TenantHandle
from tests.fixtures.passport import AgentHandle, PassportHandle, connected, new_agent, new_passport  # noqa: F401

SECRET_ID = "customer-4711@shop"
TEXTS = ["Lives in Tromsø with two cats.", "Prefers invoices by post.", "Allergic to peanuts."]


def _remember(client: TestClient, tenant: TenantHandle, end_user: str, texts: list[str]) -> None:
    for text in texts:
        added = client.post(
            "/v1/memories/add", json={"messages": [{"role": "user", "content": text}], "infer": False}, headers=tenant.key_headers(end_user)
        )
        assert added.status_code == 200, added.text


def _audit(client: TestClient, tenant: TenantHandle, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/tenant/audit", params=params, headers=tenant.jwt_headers())
    assert response.status_code == 200, response.text
    return response.json()


def _key_id(client: TestClient, tenant: TenantHandle) -> str:
    keys = client.get("/v1/tenant/api-keys", headers=tenant.jwt_headers()).json()["data"]
    return next(k["id"] for k in keys if tenant.api_key.startswith(k["key_prefix"]))


def test_erasing_an_end_user_is_recorded_without_content_or_their_id(client: TestClient, tenant: TenantHandle) -> None:
    _remember(client, tenant, SECRET_ID, TEXTS)
    memory_id = client.get("/v1/memories", headers=tenant.key_headers(SECRET_ID)).json()["data"][0]["id"]
    assert client.delete(f"/v1/memories/{memory_id}", headers=tenant.key_headers(SECRET_ID)).status_code == 200
    public_id = client.get(f"/v1/users/{SECRET_ID}", headers=tenant.key_headers()).json()["data"]["public_id"]

    deleted = client.delete(f"/v1/users/{SECRET_ID}", headers=tenant.key_headers())
    assert deleted.status_code == 200

    answer = _audit(client, tenant)
    [event] = [e for e in answer["data"] if e["action"] == "end_user.deleted"]
    assert event["actor"] == {"type": "api_key", "id": _key_id(client, tenant)}
    assert event["detail"] == {"user_id": public_id, "memories": 2, "active_memories": 2}
    assert event["created_at"].endswith("+00:00")
    assert answer["pagination"]["total"] == len(answer["data"])
    raw = client.get("/v1/tenant/audit", headers=tenant.jwt_headers()).text
    assert SECRET_ID not in raw and "4711" not in raw
    assert all(text.split()[0] not in raw for text in TEXTS)


def test_the_actor_is_the_member_or_the_oauth_client_that_erased(client: TestClient, tenant: TenantHandle) -> None:
    _remember(client, tenant, "by-member", TEXTS[:1])
    assert client.delete("/v1/users/by-member", headers=tenant.jwt_headers()).status_code == 200

    created = client.post("/v1/tenant/oauth-clients", headers=tenant.jwt_headers()).json()["data"]
    token = client.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": created["client_id"], "client_secret": created["client_secret"]},
    ).json()["access_token"]
    _remember(client, tenant, "by-client", TEXTS[1:2])
    assert client.delete("/v1/users/by-client", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    events = _audit(client, tenant, action="end_user.deleted")["data"]
    assert [e["actor"] for e in events] == [  # newest first
        {"type": "oauth_client", "id": created["client_id"]},
        {"type": "user", "id": tenant.owner_id},
    ]
    assert [e["detail"]["memories"] for e in events] == [1, 1]


def test_an_end_user_without_memories_is_recorded_with_zero(client: TestClient, tenant: TenantHandle) -> None:
    assert client.post("/v1/memories/retrieve", json={"query": "x"}, headers=tenant.key_headers("ghost")).status_code == 200
    assert client.delete("/v1/users/ghost", headers=tenant.key_headers()).status_code == 404  # never seen: nothing to erase
    assert _audit(client, tenant, action="end_user.deleted")["data"] == []
    _remember(client, tenant, "empty", TEXTS[:1])
    memory_id = client.get("/v1/memories", headers=tenant.key_headers("empty")).json()["data"][0]["id"]
    client.delete(f"/v1/memories/{memory_id}", params={"hard_delete": "true"}, headers=tenant.key_headers("empty"))
    assert client.delete("/v1/users/empty", headers=tenant.key_headers()).status_code == 200
    [event] = _audit(client, tenant, action="end_user.deleted")["data"]
    assert event["detail"]["memories"] == 0


def test_pages_and_other_organisations(client: TestClient, new_tenant: Callable[..., TenantHandle]) -> None:
    acme, other = new_tenant("Acme"), new_tenant("Other")
    for name in ("one", "two", "three"):
        _remember(client, acme, name, TEXTS[:1])
        assert client.delete(f"/v1/users/{name}", headers=acme.key_headers()).status_code == 200
    first = _audit(client, acme, action="end_user.deleted", limit=2)
    assert len(first["data"]) == 2 and first["pagination"]["total"] == 3
    rest = _audit(client, acme, action="end_user.deleted", limit=2, cursor=first["pagination"]["next_cursor"])
    assert len(rest["data"]) == 1 and rest["pagination"]["next_cursor"] is None
    assert len({e["id"] for e in first["data"] + rest["data"]}) == 3
    assert _audit(client, other)["data"] == []
    bad = client.get("/v1/tenant/audit", params={"cursor": "not-a-cursor"}, headers=acme.jwt_headers())
    assert bad.status_code == 422 and bad.json()["code"] == "REQ_422"


def test_a_passport_users_activity_with_the_organisations_agent_is_not_listed(
    client: TestClient, tenant: TenantHandle, connected: Callable[..., tuple[AgentHandle, PassportHandle, str]]
) -> None:
    """Reads and writes of a passport user through this organisation's agent are that person's
    activity: the organisation does not learn who uses its agent through the passport."""
    agent, passport, uui = connected(["fact"], "read_write", agent=None)
    assert agent.tenant is tenant
    added = client.post(
        "/v1/universal/memories/add", json={"messages": [{"role": "user", "content": "I live in Bergen."}]}, headers=agent.headers(uui)
    )
    assert added.status_code == 200, added.text
    assert client.post("/v1/universal/memories/retrieve", json={"query": "Bergen"}, headers=agent.headers(uui)).status_code == 200
    mine = client.get("/v1/uui/me/activity", headers=passport.headers()).json()["data"]
    assert {"memories.read", "memories.write"} <= {e["action"] for e in mine}  # recorded, for the person
    listed = _audit(client, tenant)
    assert listed["data"] == [] and listed["pagination"]["total"] == 0
