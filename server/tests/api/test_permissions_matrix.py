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
