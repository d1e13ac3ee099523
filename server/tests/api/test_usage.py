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


def test_usage_is_refused_to_roles_without_it(client: TestClient, tenant: TenantHandle) -> None:
    for headers in (tenant.add_member("member").headers(), tenant.key_headers()):
        refused = client.get("/v1/tenant/usage", headers=headers)
        assert refused.status_code == 403 and refused.json()["code"] == "AUTH_003"
