"""Every membership role (and tenant backends) against every tenant administration route.

The expectations are written from SPEC §4, independently of the table in
services/permissions.py: owner/admin manage members, keys, agents and connectors; developer
manages keys, agents and connectors; analyst reads usage and reviews; member and viewer read only.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.factories import PASSWORD, TenantHandle

ROLES = ("owner", "admin", "developer", "analyst", "member", "viewer", "api_key", "oauth_client")


@dataclass(frozen=True)
class RouteCase:
    name: str
    allowed: frozenset[str]
    call: Callable[[TestClient, TenantHandle, dict[str, str]], int]


def _create_key(c: TestClient, t: TenantHandle, h: dict[str, str]) -> int:
    return c.post("/v1/tenant/api-keys", json={"name": "x"}, headers=h).status_code


def _list_keys(c: TestClient, t: TenantHandle, h: dict[str, str]) -> int:
    return c.get("/v1/tenant/api-keys", headers=h).status_code


def _revoke_key(c: TestClient, t: TenantHandle, h: dict[str, str]) -> int:
    victim = c.post("/v1/tenant/api-keys", json={"name": "victim"}, headers=t.jwt_headers()).json()["data"]["id"]
    return c.delete(f"/v1/tenant/api-keys/{victim}", headers=h).status_code


def _create_client(c: TestClient, t: TenantHandle, h: dict[str, str]) -> int:
    return c.post("/v1/tenant/oauth-clients", json={"name": "x"}, headers=h).status_code


def _list_clients(c: TestClient, t: TenantHandle, h: dict[str, str]) -> int:
    return c.get("/v1/tenant/oauth-clients", headers=h).status_code


def _revoke_client(c: TestClient, t: TenantHandle, h: dict[str, str]) -> int:
    victim = c.post("/v1/tenant/oauth-clients", json={"name": "v"}, headers=t.jwt_headers()).json()["data"]["client_id"]
    return c.delete(f"/v1/tenant/oauth-clients/{victim}", headers=h).status_code


def _list_members(c: TestClient, t: TenantHandle, h: dict[str, str]) -> int:
    return c.get("/v1/tenant/members", headers=h).status_code


def _add_member(c: TestClient, t: TenantHandle, h: dict[str, str]) -> int:
    email = f"new-{secrets.token_hex(4)}@example.com"
    return c.post("/v1/tenant/members", json={"email": email, "role": "viewer", "password": PASSWORD}, headers=h).status_code


def _patch_member(c: TestClient, t: TenantHandle, h: dict[str, str]) -> int:
    target = t.add_member("viewer")
    return c.patch(f"/v1/tenant/members/{target.user_id}", json={"role": "member"}, headers=h).status_code


def _remove_member(c: TestClient, t: TenantHandle, h: dict[str, str]) -> int:
    target = t.add_member("viewer")
    return c.delete(f"/v1/tenant/members/{target.user_id}", headers=h).status_code


def _list_users(c: TestClient, t: TenantHandle, h: dict[str, str]) -> int:
    return c.get("/v1/users", headers=h).status_code


def _end_user(c: TestClient, t: TenantHandle) -> str:
    end_user = f"eu-{secrets.token_hex(4)}"
    # Creating the end-user through the identity service path the memory routes use.
    services = c.app.state.services  # type: ignore[attr-defined]
    principal = services.identity.authenticate_request(authorization=f"ApiKey {t.api_key}", x_api_key=None)
    with services.runtime.db.session() as session:
        services.identity.end_user(session, principal, end_user, create=True)
    return end_user


def _get_user(c: TestClient, t: TenantHandle, h: dict[str, str]) -> int:
    return c.get(f"/v1/users/{_end_user(c, t)}", headers=h).status_code


def _export_user(c: TestClient, t: TenantHandle, h: dict[str, str]) -> int:
    return c.get(f"/v1/users/{_end_user(c, t)}/export", headers=h).status_code


def _delete_user(c: TestClient, t: TenantHandle, h: dict[str, str]) -> int:
    return c.delete(f"/v1/users/{_end_user(c, t)}", headers=h).status_code


MANAGERS = frozenset({"owner", "admin"})
BUILDERS = MANAGERS | {"developer"}
EVERY_MEMBER = frozenset({"owner", "admin", "developer", "analyst", "member", "viewer"})
BACKENDS = frozenset({"api_key", "oauth_client"})

CASES = [
    RouteCase("create api key", BUILDERS, _create_key),
    RouteCase("list api keys", BUILDERS, _list_keys),
    RouteCase("revoke api key", BUILDERS, _revoke_key),
    RouteCase("create oauth client", BUILDERS, _create_client),
    RouteCase("list oauth clients", BUILDERS, _list_clients),
    RouteCase("revoke oauth client", BUILDERS, _revoke_client),
    RouteCase("list members", EVERY_MEMBER, _list_members),
    RouteCase("add member", MANAGERS, _add_member),
    RouteCase("change member role", MANAGERS, _patch_member),
    RouteCase("remove member", MANAGERS, _remove_member),
    RouteCase("list end-users", BUILDERS | {"analyst"} | BACKENDS, _list_users),
    RouteCase("get end-user", BUILDERS | {"analyst"} | BACKENDS, _get_user),
    RouteCase("export end-user", BUILDERS | BACKENDS, _export_user),
    RouteCase("delete end-user", MANAGERS | BACKENDS, _delete_user),
]


@pytest.fixture(scope="module")
def org(client: TestClient) -> dict[str, object]:
    """One organisation with a member of every role, an API key and an OAuth client token."""
    from tests.fixtures.factories import create_tenant

    handle = create_tenant(client, "Matrix")
    headers: dict[str, dict[str, str]] = {"owner": handle.jwt_headers(), "api_key": handle.key_headers()}
    for role in ("admin", "developer", "analyst", "member", "viewer"):
        headers[role] = handle.add_member(role).headers()
    created = client.post("/v1/tenant/oauth-clients", json={"name": "svc"}, headers=handle.jwt_headers()).json()["data"]
    token = client.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": created["client_id"], "client_secret": created["client_secret"]},
    ).json()["access_token"]
    headers["oauth_client"] = {"Authorization": f"Bearer {token}"}
    return {"handle": handle, "headers": headers}


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_role_route_matrix(client: TestClient, org: dict[str, object], case: RouteCase) -> None:
    handle: TenantHandle = org["handle"]  # type: ignore[assignment]
    headers: dict[str, dict[str, str]] = org["headers"]  # type: ignore[assignment]
    outcomes = {role: case.call(client, handle, headers[role]) for role in ROLES}
    for role, status in outcomes.items():
        if role in case.allowed:
            assert status in (200, 201), f"{role} should be allowed to {case.name}, got {status}"
        else:
            assert status == 403, f"{role} should be refused {case.name} with 403, got {status}"


def test_refusal_uses_the_role_error_code(client: TestClient, org: dict[str, object]) -> None:
    headers: dict[str, dict[str, str]] = org["headers"]  # type: ignore[assignment]
    response = client.post("/v1/tenant/api-keys", json={"name": "x"}, headers=headers["viewer"])
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "AUTH_003"
    assert body["request_id"].startswith("req_")


# --- keys and OAuth clients act with no more rights than their creator ------------------------------


def _key_of(client: TestClient, headers: dict[str, str]) -> dict[str, str]:
    created = client.post("/v1/tenant/api-keys", json={"name": "made-by"}, headers=headers)
    assert created.status_code == 201, created.text
    return {"Authorization": f"ApiKey {created.json()['data']['raw_api_key']}"}


def _client_token(client: TestClient, headers: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    created = client.post("/v1/tenant/oauth-clients", json={"name": "made-by"}, headers=headers).json()["data"]
    form = {"grant_type": "client_credentials", "client_id": created["client_id"], "client_secret": created["client_secret"]}
    token = client.post("/v1/oauth/token", data=form)
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}, form


def _write(client: TestClient, headers: dict[str, str], end_user: str = "eu-write") -> int:
    body = {"messages": [{"role": "user", "content": "I prefer tea"}], "infer": False}
    return client.post("/v1/memories/add", json=body, headers={**headers, "X-End-User-ID": end_user}).status_code


def _read(client: TestClient, headers: dict[str, str], end_user: str = "eu-write") -> int:
    return client.post(
        "/v1/memories/retrieve", json={"query": "tea"}, headers={**headers, "X-End-User-ID": end_user}
    ).status_code


def test_a_developer_made_key_cannot_delete_end_users_but_an_owner_made_key_can(
    client: TestClient, tenant: TenantHandle
) -> None:
    developer = tenant.add_member("developer")
    developer_key = _key_of(client, developer.headers())
    assert _write(client, developer_key) == 200  # a developer's key still integrates memory
    refused = client.delete(f"/v1/users/{_end_user(client, tenant)}", headers=developer_key)
    assert refused.status_code == 403 and refused.json()["code"] == "AUTH_003"
    developer_client, _form = _client_token(client, developer.headers())
    refused = client.delete(f"/v1/users/{_end_user(client, tenant)}", headers=developer_client)
    assert refused.status_code == 403 and refused.json()["code"] == "AUTH_003"

    owner_key = _key_of(client, tenant.jwt_headers())
    assert client.delete(f"/v1/users/{_end_user(client, tenant)}", headers=owner_key).status_code == 200
    me = client.get("/v1/auth/me", headers=developer_key).json()["data"]
    assert (me["role"], me["creator_role"]) == ("service", "developer")


def test_a_demoted_creators_key_and_client_lose_the_rights_at_once(client: TestClient, tenant: TenantHandle) -> None:
    second_owner = tenant.add_member("owner")
    key = _key_of(client, second_owner.headers())
    oauth, _form = _client_token(client, second_owner.headers())
    for credential in (key, oauth):
        assert _write(client, credential) == 200
        assert client.delete(f"/v1/users/{_end_user(client, tenant)}", headers=credential).status_code == 200

    demoted = client.patch(f"/v1/tenant/members/{second_owner.user_id}", json={"role": "viewer"}, headers=tenant.jwt_headers())
    assert demoted.status_code == 200, demoted.text
    for credential in (key, oauth):
        assert _write(client, credential) == 403
        assert client.delete(f"/v1/users/{_end_user(client, tenant)}", headers=credential).status_code == 403
        assert _read(client, credential) == 200  # a viewer reads, so the credential still does

    restored = client.patch(f"/v1/tenant/members/{second_owner.user_id}", json={"role": "admin"}, headers=tenant.jwt_headers())
    assert restored.status_code == 200
    assert _write(client, key) == 200 and _write(client, oauth) == 200


def test_a_removed_creators_key_and_client_fail_as_revoked_ones_do(client: TestClient, tenant: TenantHandle) -> None:
    developer = tenant.add_member("developer")
    key = _key_of(client, developer.headers())
    oauth, form = _client_token(client, developer.headers())
    assert _read(client, key) == 200 and _read(client, oauth) == 200

    removed = client.delete(f"/v1/tenant/members/{developer.user_id}", headers=tenant.jwt_headers())
    assert removed.status_code == 200
    for credential in (key, oauth):
        response = client.post(
            "/v1/memories/retrieve", json={"query": "tea"}, headers={**credential, "X-End-User-ID": "eu-write"}
        )
        assert response.status_code == 401 and response.json()["code"] == "AUTH_001"
    # Nor can the client get a new token.
    again = client.post("/v1/oauth/token", data=form)
    assert again.status_code == 401 and again.json()["error"] == "invalid_client"


def test_a_key_with_no_recorded_creator_keeps_the_service_role(client: TestClient, tenant: TenantHandle) -> None:
    from sqlalchemy import update

    from memoryos_server.storage.models import ApiKey

    developer = tenant.add_member("developer")
    key = _key_of(client, developer.headers())
    services = client.app.state.services  # type: ignore[attr-defined]
    key_id = client.get("/v1/auth/me", headers=key).json()["data"]["credential_id"]
    with services.runtime.db.session() as session:
        session.execute(update(ApiKey).where(ApiKey.public_id == key_id).values(created_by_user_id=None))
    assert client.delete(f"/v1/users/{_end_user(client, tenant)}", headers=key).status_code == 200
    assert client.get("/v1/auth/me", headers=key).json()["data"]["creator_role"] is None
