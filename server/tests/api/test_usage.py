"""GET /v1/tenant/usage: what one organisation uses, counted over its own rows only."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.fixtures.factories import TenantHandle


def _add(client: TestClient, path: str, headers: dict[str, str], *texts: str, category: str = "fact") -> None:
    body = {"messages": [{"role": "user", "content": t} for t in texts], "infer": False, "category": category}
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == 200, response.text


def _usage(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get("/v1/tenant/usage", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def test_usage_counts_this_organisation_only(client: TestClient, new_tenant: Any) -> None:
    acme, other = new_tenant("Acme"), new_tenant("Other")
    _add(client, "/v1/memories/add", other.key_headers("zed"), "Zed likes jazz", "Zed owns a boat", "Zed is tall")
    empty = _usage(client, acme.jwt_headers())
    assert empty["end_users"] == 0 and empty["memories"]["total"] == 0
    assert empty["storage"] == {"memory_rows": 0, "version_rows": 0, "ciphertext_bytes": 0}

    _add(client, "/v1/memories/add", acme.key_headers("alice"), "Alice likes tea", "Alice owns a cat")
    _add(client, "/v1/memories/add", acme.key_headers("bob"), "Bob prefers short answers", category="preference")
    _add(client, "/v1/workspace/memories/add", acme.jwt_headers(), "The office has a bike room")
    analyst = acme.add_member("analyst")

    usage = _usage(client, analyst.headers())  # SPEC §4: the analyst reads usage
    assert usage["tenant_id"] == acme.tenant_id
    assert usage["end_users"] == 2 and usage["members"] == 2
    assert usage["memories"]["total"] == 4
    assert usage["memories"]["by_scope"] == {
        "tenant": {"active": 3, "archived": 0},
        "workspace": {"active": 1, "archived": 0},
    }
    assert usage["memories"]["by_category"]["fact"] == 3
    assert usage["memories"]["by_category"]["preference"] == 1
    assert usage["storage"]["memory_rows"] == 4 and usage["storage"]["version_rows"] >= 4
    assert usage["storage"]["ciphertext_bytes"] > 0
    assert usage["api_keys"]["active"] == 1 and usage["api_keys"]["last_used_at"] is not None
    assert usage["oauth_clients"] == {"active": 0}
    assert usage["api_calls"] is None  # requests are not recorded one by one


def test_usage_is_read_by_every_member_but_not_by_a_backend_key(client: TestClient, tenant: TenantHandle) -> None:
    for role in ("member", "viewer", "analyst"):
        assert client.get("/v1/tenant/usage", headers=tenant.add_member(role).headers()).status_code == 200, role
    refused = client.get("/v1/tenant/usage", headers=tenant.key_headers())
    assert refused.status_code == 403 and refused.json()["code"] == "AUTH_003"


def test_a_viewer_reads_the_organisations_records_but_not_an_end_users_memories(client: TestClient, tenant: TenantHandle) -> None:
    client.post(
        "/v1/memories/add",
        json={"messages": [{"role": "user", "content": "I keep my passport in the blue drawer"}], "infer": False},
        headers=tenant.key_headers("drawer-owner"),
    )
    viewer = tenant.add_member("viewer").headers()
    listed = client.get("/v1/users", headers=viewer)
    assert listed.status_code == 200 and "drawer-owner" in {u["external_user_id"] for u in listed.json()["data"]}
    assert client.get("/v1/users/drawer-owner", headers=viewer).status_code == 200
    assert client.get("/v1/tenant/reviews", headers=viewer).status_code == 200
    export = client.get("/v1/users/drawer-owner/export", headers=viewer)
    assert export.status_code == 403 and export.json()["code"] == "AUTH_003"
    assert client.delete("/v1/users/drawer-owner", headers=viewer).status_code == 403
