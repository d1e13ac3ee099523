"""Every end-user stays reachable by GET, export and DELETE /v1/users/{…} (both databases).

An end-user id is any printable text, so X-End-User-ID can name one a URL path cannot carry
(``org/42``: a "/" splits the path even sent as %2F; ``..`` is resolved away by clients). Such
users are reached by their usr_ public id, which GET /v1/users lists; the tenant's own id keeps
working for every other one and wins where the two coincide.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.factories import TenantHandle


def _remember(client: TestClient, tenant: TenantHandle, end_user: str, text: str = "Lives in Oslo.") -> None:
    response = client.post(
        "/v1/memories/add",
        json={"messages": [{"role": "user", "content": text}], "infer": False},
        headers=tenant.key_headers(end_user),
    )
    assert response.status_code == 200, response.text


def _public_id(client: TestClient, tenant: TenantHandle, end_user: str) -> str:
    listed = client.get("/v1/users", params={"limit": 200}, headers=tenant.key_headers()).json()["data"]
    return next(u["public_id"] for u in listed if u["external_user_id"] == end_user)


@pytest.mark.parametrize("end_user", ["org/42", "a/b/export", "..", "with space?&#%"])
def test_an_id_a_path_cannot_carry_is_reached_and_erased_by_its_public_id(
    client: TestClient, tenant: TenantHandle, end_user: str
) -> None:
    _remember(client, tenant, end_user)
    public_id = _public_id(client, tenant, end_user)
    assert public_id.startswith("usr_")
    headers = tenant.key_headers()

    got = client.get(f"/v1/users/{public_id}", headers=headers)
    assert got.status_code == 200 and got.json()["data"]["external_user_id"] == end_user
    exported = client.get(f"/v1/users/{public_id}/export", headers=headers).json()["data"]
    assert exported["external_user_id"] == end_user and exported["proxy_user_id"] == public_id
    assert [m["content"] for m in exported["memories"]] == ["Lives in Oslo."]

    deleted = client.delete(f"/v1/users/{public_id}", headers=headers)
    assert deleted.status_code == 200
    assert deleted.json()["data"] == {"deleted": True, "user_id": public_id, "external_user_id": end_user}
    gone = client.get(f"/v1/users/{public_id}", headers=headers)
    assert gone.status_code == 404 and gone.json()["code"] == "USR_404"
    assert all(u["public_id"] != public_id for u in client.get("/v1/users", headers=headers).json()["data"])
    # The same id seen again is a new, empty end-user: nothing of the erased one survives.
    listed = client.get("/v1/memories", headers=tenant.key_headers(end_user)).json()["data"]
    assert listed == []


def test_plain_ids_still_work_and_win_over_a_public_id_they_spell(client: TestClient, tenant: TenantHandle) -> None:
    _remember(client, tenant, "plain-42")
    first = _public_id(client, tenant, "plain-42")
    assert client.get("/v1/users/plain-42", headers=tenant.key_headers()).json()["data"]["public_id"] == first
    _remember(client, tenant, first, "Prefers tea.")  # an end-user whose own id is the other's usr_ id
    got = client.get(f"/v1/users/{first}", headers=tenant.key_headers()).json()["data"]
    assert got["external_user_id"] == first and got["public_id"] != first
    assert client.delete("/v1/users/plain-42", headers=tenant.key_headers()).json()["data"]["user_id"] == first


def test_a_public_id_reaches_only_this_tenants_end_users(
    client: TestClient, tenant: TenantHandle, new_tenant
) -> None:  # type: ignore[no-untyped-def]
    other = new_tenant("Other")
    _remember(client, other, "theirs/1")
    theirs = _public_id(client, other, "theirs/1")
    member = tenant.add_member("developer")
    for foreign in (theirs, tenant.owner_id, member.user_id):  # another tenant's end-user; dashboard accounts
        for method, suffix in (("GET", ""), ("GET", "/export"), ("DELETE", "")):
            response = client.request(method, f"/v1/users/{foreign}{suffix}", headers=tenant.key_headers())
            assert response.status_code == 404 and response.json()["code"] == "USR_404", (foreign, method, suffix)
    assert client.get(f"/v1/users/{theirs}", headers=other.key_headers()).status_code == 200  # untouched
    assert client.get("/v1/auth/me", headers=member.headers()).status_code == 200
    assert client.get("/v1/auth/me", headers=tenant.jwt_headers()).status_code == 200
