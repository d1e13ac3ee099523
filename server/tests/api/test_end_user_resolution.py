"""SPEC §4: the end-user comes from the credential and X-End-User-ID, never from a body's
``user_id``; a JWT caller is always their own end-user, whatever X-End-User-ID says (both databases)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.fixtures.factories import TenantHandle


def _add(client: TestClient, headers: dict[str, str], text: str, **body: object) -> None:
    response = client.post(
        "/v1/memories/add", json={"messages": [{"role": "user", "content": text}], "infer": False, **body}, headers=headers
    )
    assert response.status_code == 200, response.text


def _contents(client: TestClient, headers: dict[str, str]) -> list[str]:
    response = client.get("/v1/memories", headers=headers)
    assert response.status_code == 200, response.text
    return [m["content"] for m in response.json()["data"]]


def _end_users(client: TestClient, tenant: TenantHandle) -> dict[str, str]:
    listed = client.get("/v1/users", params={"limit": 200}, headers=tenant.key_headers()).json()["data"]
    return {u["external_user_id"]: u["public_id"] for u in listed}


def test_a_body_user_id_is_ignored(client: TestClient, tenant: TenantHandle) -> None:
    _add(client, tenant.key_headers("bob"), "Bob's own memory.")
    bob_public_id = _end_users(client, tenant)["bob"]
    facts = {"bob": "Likes green tea.", bob_public_id: "Works as a nurse.", f"{tenant.tenant_id}:bob": "Lives in Bergen."}
    for named, fact in facts.items():
        _add(client, tenant.key_headers("alice"), fact, user_id=named)
    assert _contents(client, tenant.key_headers("bob")) == ["Bob's own memory."]
    assert sorted(_contents(client, tenant.key_headers("alice"))) == sorted(facts.values())
    assert set(_end_users(client, tenant)) == {"alice", "bob"}


def test_a_jwt_callers_x_end_user_id_is_ignored(client: TestClient, tenant: TenantHandle) -> None:
    own = {**tenant.jwt_headers(), "X-End-User-ID": "victim"}
    _add(client, own, "The owner's own note.", external_user_id="victim-from-body")
    assert _contents(client, own) == ["The owner's own note."]
    assert _contents(client, tenant.jwt_headers()) == ["The owner's own note."]  # the same owner, with or without
    # Neither the header nor the body field made or wrote to an end-user of the tenant.
    assert "victim" not in _end_users(client, tenant) and "victim-from-body" not in _end_users(client, tenant)
    assert _contents(client, tenant.key_headers("victim")) == []
