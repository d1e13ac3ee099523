"""Tenant A tries every tenant administration route on tenant B's objects (SPEC §8).

Memory routes have their own cross-tenant tests next to the memory API tests.
"""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.fixtures.factories import TenantHandle


def test_tenant_a_cannot_touch_tenant_b(client: TestClient, new_tenant) -> None:  # type: ignore[no-untyped-def]
    a: TenantHandle = new_tenant("A")
    b: TenantHandle = new_tenant("B")
    b_key = client.get("/v1/tenant/api-keys", headers=b.jwt_headers()).json()["data"][0]["id"]
    b_client = client.post("/v1/tenant/oauth-clients", json={"name": "b"}, headers=b.jwt_headers()).json()["data"]
    b_member = b.add_member("developer")
    services = client.app.state.services  # type: ignore[attr-defined]
    principal_b = services.identity.authenticate_request(authorization=f"ApiKey {b.api_key}", x_api_key=None)
    with services.runtime.db.session() as session:
        services.identity.end_user(session, principal_b, "b-customer", create=True)

    for headers in (a.jwt_headers(), a.key_headers()):
        attempts = [
            client.delete(f"/v1/tenant/api-keys/{b_key}", headers=headers),
            client.delete(f"/v1/tenant/oauth-clients/{b_client['client_id']}", headers=headers),
            client.patch(f"/v1/tenant/members/{b_member.user_id}", json={"role": "viewer"}, headers=headers),
            client.delete(f"/v1/tenant/members/{b_member.user_id}", headers=headers),
            client.delete(f"/v1/tenant/members/{b.owner_id}", headers=headers),
            client.get("/v1/users/b-customer", headers=headers),
            client.get("/v1/users/b-customer/export", headers=headers),
            client.delete("/v1/users/b-customer", headers=headers),
        ]
        for response in attempts:
            # 404 when A may use the route at all (nothing of B's exists for A), 403 when A's
            # credential may not use it — never a success, never B's data.
            assert response.status_code in (403, 404), (response.request.method, response.request.url, response.text)
            assert b.tenant_id not in response.text

    listed_users = client.get("/v1/users", headers=a.key_headers()).json()
    assert all(u["external_user_id"] != "b-customer" for u in listed_users["data"])
    members = client.get("/v1/tenant/members", headers=a.jwt_headers()).json()["data"]
    assert {m["user_id"] for m in members} == {a.owner_id}
    # B is untouched.
    assert client.get("/v1/users", headers=b.key_headers()).status_code == 200
    assert client.get("/v1/users/b-customer", headers=b.key_headers()).status_code == 200
    assert client.get("/v1/tenant/members", headers=b_member.headers()).status_code == 200
    token = client.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": b_client["client_id"], "client_secret": b_client["client_secret"]},
    )
    assert token.status_code == 200


def test_a_client_token_only_works_for_its_own_tenant(client: TestClient, new_tenant) -> None:  # type: ignore[no-untyped-def]
    a: TenantHandle = new_tenant("A")
    b: TenantHandle = new_tenant("B")
    created = client.post("/v1/tenant/oauth-clients", json={"name": "a"}, headers=a.jwt_headers()).json()["data"]
    token = client.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": created["client_id"], "client_secret": created["client_secret"]},
    ).json()["access_token"]
    me = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()["data"]
    assert me["tenant_id"] == a.tenant_id != b.tenant_id
