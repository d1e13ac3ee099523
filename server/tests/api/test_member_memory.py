"""A dashboard human's own memories belong to (person, organisation), on both databases.

A JWT caller is their own end-user on the tenant memory routes; the memories they keep signed
in to one organisation must never be read, searched, changed or deleted signed in to another.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.fixtures.factories import TenantHandle, create_tenant

OSLO = "I live in Oslo"


def _add(client: TestClient, headers: dict[str, str], text: str) -> str:
    response = client.post(
        "/v1/memories/add", json={"messages": [{"role": "user", "content": text}], "infer": False}, headers=headers
    )
    assert response.status_code == 200, response.text
    return str(response.json()["results"][0]["id"])


def _listed(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = client.get("/v1/memories", headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def _found(client: TestClient, headers: dict[str, str], query: str) -> list[str]:
    response = client.post("/v1/memories/retrieve", json={"query": query}, headers=headers)
    assert response.status_code == 200, response.text
    return [item["content"] for item in response.json()["data"]]


def _two_organisations(client: TestClient, role_in_beta: str) -> tuple[TenantHandle, TenantHandle, dict[str, str]]:
    """a@ owns Acme and joins Beta with ``role_in_beta``; returns (acme, beta, a@'s Beta headers)."""
    acme, beta = create_tenant(client, "Acme"), create_tenant(client, "Beta")
    joined = beta.join(acme.owner_email, role_in_beta)
    return acme, beta, joined.headers()


def test_memories_written_in_one_organisation_are_not_listed_or_found_in_another(client: TestClient) -> None:
    acme, _beta, in_beta = _two_organisations(client, "viewer")
    acme_id = _add(client, acme.jwt_headers(), OSLO)
    assert [m["id"] for m in _listed(client, acme.jwt_headers())] == [acme_id]
    assert any("Oslo" in text for text in _found(client, acme.jwt_headers(), "where do I live? Oslo"))

    # The reported reproduction: signed in to Beta, the same person sees nothing of Acme's.
    assert _listed(client, in_beta) == []
    assert _found(client, in_beta, "where do I live? Oslo") == []
    assert client.get(f"/v1/memories/{acme_id}", headers=in_beta).status_code == 404
    assert client.get(f"/v1/memories/{acme_id}/history", headers=in_beta).status_code == 404


def test_a_write_in_one_organisation_stays_there_and_a_delete_cannot_reach_the_other(client: TestClient) -> None:
    acme, _beta, in_beta = _two_organisations(client, "developer")
    acme_id = _add(client, acme.jwt_headers(), OSLO)
    beta_id = _add(client, in_beta, "I work from the Bergen office on Fridays")

    assert [m["id"] for m in _listed(client, in_beta)] == [beta_id]
    assert [m["id"] for m in _listed(client, acme.jwt_headers())] == [acme_id]
    assert not any("Bergen" in text for text in _found(client, acme.jwt_headers(), "Bergen office Fridays"))

    for hard in ("false", "true"):
        refused = client.delete(f"/v1/memories/{acme_id}?hard_delete={hard}", headers=in_beta)
        assert refused.status_code == 404 and refused.json()["code"] == "MEM_404"
    patched = client.patch(f"/v1/memories/{acme_id}", json={"content": "I live in Bergen"}, headers=in_beta)
    assert patched.status_code == 404
    still = client.get(f"/v1/memories/{acme_id}", headers=acme.jwt_headers())
    assert still.status_code == 200 and still.json()["data"]["content"] == OSLO

    deleted = client.delete(f"/v1/memories/{beta_id}", headers=in_beta)
    assert deleted.status_code == 200 and deleted.json()["data"]["deleted"] is True
    assert _listed(client, in_beta) == []
    assert [m["id"] for m in _listed(client, acme.jwt_headers())] == [acme_id]


def test_a_tenant_backend_cannot_reach_a_members_own_memories(client: TestClient) -> None:
    acme = create_tenant(client, "Acme")
    own_id = _add(client, acme.jwt_headers(), OSLO)
    me = client.get("/v1/auth/me", headers=acme.jwt_headers()).json()["data"]
    # Neither by id alone (the published SDK's delete) nor by guessing an end-user id.
    by_id = client.delete(f"/v1/memories/{own_id}", headers=acme.key_headers())
    assert by_id.status_code == 404
    for guess in (me["user_id"], f"jwt:{me['user_id']}", f"#member:{me['user_id']}", f"member:{me['user_id']}"):
        assert client.get(f"/v1/memories/{own_id}", headers=acme.key_headers(guess)).status_code == 404
    listed = client.get("/v1/users", headers=acme.key_headers()).json()["data"]
    assert listed == []  # a member's own memory owner is not one of the tenant's end-users
    assert [m["id"] for m in _listed(client, acme.jwt_headers())] == [own_id]


def test_two_members_of_one_organisation_do_not_share_memories(client: TestClient) -> None:
    acme = create_tenant(client, "Acme")
    colleague = acme.add_member("developer")
    _add(client, acme.jwt_headers(), OSLO)
    assert _listed(client, colleague.headers()) == []
    assert _found(client, colleague.headers(), "Oslo") == []
