"""Sign-up, login, API keys, OAuth client credentials and JWTs (SPEC §4)."""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from tests.fixtures.factories import PASSWORD, TenantHandle, create_tenant


def test_login_returns_a_bearer_jwt_that_identifies_the_owner(client: TestClient, tenant: TenantHandle) -> None:
    response = client.post("/v1/auth/login", json={"email": tenant.owner_email, "password": PASSWORD})
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["token_type"] == "bearer" and data["expires_in"] > 0
    me = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {data['access_token']}"}).json()["data"]
    assert me["user_id"] == tenant.owner_id and me["role"] == "owner" and me["tenant_id"] == tenant.tenant_id
    assert me["user_id"].startswith("usr_")


def test_login_with_a_wrong_password_or_unknown_email_is_the_same_401(client: TestClient, tenant: TenantHandle) -> None:
    wrong = client.post("/v1/auth/login", json={"email": tenant.owner_email, "password": "not it at all"})
    unknown = client.post("/v1/auth/login", json={"email": "nobody@example.com", "password": PASSWORD})
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.json()["code"] == "AUTH_001"
    assert wrong.json()["error"] == unknown.json()["error"]


def test_signup_twice_with_one_email_is_refused(client: TestClient, tenant: TenantHandle) -> None:
    again = client.post(
        "/v1/auth/signup", json={"email": tenant.owner_email.upper(), "password": PASSWORD, "organization_name": "Dup"}
    )
    assert again.status_code == 409


def test_signup_validates_its_input(client: TestClient) -> None:
    response = client.post("/v1/auth/signup", json={"email": "not-an-email", "password": "pw-Xq7", "organization_name": ""})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "REQ_422"
    fields = {tuple(item["loc"]) for item in body["details"]}
    assert ("body", "email") in fields and ("body", "password") in fields
    assert "pw-Xq7" not in response.text  # submitted values are never echoed back


def test_signup_can_be_disabled(runtime, test_database) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from memoryos_server.app import create_app

    closed_settings = runtime.settings.model_copy(update={"signup_enabled": False})
    closed = create_app(closed_settings, runtime=dataclasses.replace(runtime, settings=closed_settings), migrate=False)
    with TestClient(closed) as closed_client:
        response = closed_client.post(
            "/v1/auth/signup", json={"email": "x@example.com", "password": PASSWORD, "organization_name": "X"}
        )
    assert response.status_code == 403


def test_api_key_works_in_both_headers_and_is_shown_once(client: TestClient, tenant: TenantHandle) -> None:
    assert client.get("/v1/users", headers={"Authorization": f"ApiKey {tenant.api_key}"}).status_code == 200
    assert client.get("/v1/users", headers={"X-API-Key": tenant.api_key}).status_code == 200
    listed = client.get("/v1/tenant/api-keys", headers=tenant.jwt_headers()).text
    assert tenant.api_key not in listed
    assert tenant.api_key[:12] in listed  # the prefix, to tell keys apart


def test_two_credentials_that_disagree_are_refused(client: TestClient, tenant: TenantHandle, new_tenant: Any) -> None:
    other = new_tenant("Other Co")
    same = {"Authorization": f"ApiKey {tenant.api_key}", "X-API-Key": tenant.api_key}
    assert client.get("/v1/users", headers=same).status_code == 200
    for headers in (
        {"Authorization": f"ApiKey {tenant.api_key}", "X-API-Key": other.api_key},
        {"Authorization": f"ApiKey {other.api_key}", "X-API-Key": tenant.api_key},
        {**tenant.jwt_headers(), "X-API-Key": other.api_key},
    ):
        response = client.get("/v1/users", headers=headers)
        assert response.status_code == 401 and response.json()["code"] == "AUTH_001", headers


def test_a_revoked_api_key_fails_at_once(client: TestClient, tenant: TenantHandle) -> None:
    created = client.post("/v1/tenant/api-keys", json={"name": "short-lived"}, headers=tenant.jwt_headers()).json()["data"]
    headers = {"X-API-Key": created["raw_api_key"]}
    assert client.get("/v1/users", headers=headers).status_code == 200
    assert client.delete(f"/v1/tenant/api-keys/{created['id']}", headers=tenant.jwt_headers()).status_code == 200
    response = client.get("/v1/users", headers=headers)
    assert response.status_code == 401 and response.json()["code"] == "AUTH_001"


@pytest.mark.parametrize(
    "body",
    [
        {},  # no body at all, as the first-run message's curl sends it
        {"content": b"", "headers": {"Content-Type": "application/json"}},
        {"json": {}},
    ],
    ids=["no-body", "empty-json-body", "empty-object"],
)
@pytest.mark.parametrize("route", ["/v1/tenant/api-keys", "/v1/tenant/oauth-clients"])
def test_a_key_or_client_needs_no_body_its_name_has_a_default(
    client: TestClient, tenant: TenantHandle, route: str, body: dict[str, object]
) -> None:
    headers = {**tenant.jwt_headers(), **body.pop("headers", {})}  # type: ignore[dict-item]
    created = client.post(route, headers=headers, **body)  # type: ignore[arg-type]
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert data["name"] == "default"
    if route.endswith("api-keys"):
        assert client.get("/v1/users", headers={"X-API-Key": data["raw_api_key"]}).status_code == 200
    else:
        assert data["client_secret"]


def test_a_key_body_that_is_not_an_object_is_still_refused(client: TestClient, tenant: TenantHandle) -> None:
    for body in ([], "x", {"name": ""}):
        response = client.post("/v1/tenant/api-keys", json=body, headers=tenant.jwt_headers())
        assert response.status_code == 422 and response.json()["code"] == "REQ_422", body


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "ApiKey mem_not_a_real_key"},
        {"Authorization": "ApiKey agent_sk_wrong_kind"},
        {"X-API-Key": "mem_nope"},
        {"Authorization": "Bearer not.a.jwt"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
)
def test_missing_or_bad_credentials_are_401(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get("/v1/users", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "AUTH_001"


def test_a_tampered_or_foreign_jwt_is_refused(client: TestClient, tenant: TenantHandle) -> None:
    header, payload, signature = tenant.jwt.split(".")
    claims = jwt.decode(tenant.jwt, options={"verify_signature": False})
    claims["tid"] = "ten_someone_else"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    tampered = f"{header}.{forged_payload}.{signature}"
    foreign = jwt.encode({**claims, "exp": int(time.time()) + 60}, "another server's signing key, 32+ bytes long", algorithm="HS256")
    unsigned = jwt.encode(claims, None, algorithm="none")
    for token in (tampered, foreign, unsigned):
        response = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
    assert client.get("/v1/auth/me", headers={"Authorization": f"Bearer {tenant.jwt}"}).status_code == 200


def test_an_expired_jwt_is_refused(client: TestClient, tenant: TenantHandle, runtime) -> None:  # type: ignore[no-untyped-def]
    claims = jwt.decode(tenant.jwt, options={"verify_signature": False})
    claims.update(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)
    expired = jwt.encode(claims, runtime.jwt_key, algorithm="HS256")
    assert client.get("/v1/auth/me", headers={"Authorization": f"Bearer {expired}"}).status_code == 401


def test_a_removed_member_loses_access_with_a_still_valid_token(client: TestClient, tenant: TenantHandle) -> None:
    member = tenant.add_member("developer")
    assert client.get("/v1/tenant/api-keys", headers=member.headers()).status_code == 200
    assert client.delete(f"/v1/tenant/members/{member.user_id}", headers=tenant.jwt_headers()).status_code == 200
    assert client.get("/v1/tenant/api-keys", headers=member.headers()).status_code == 401


def test_a_changed_role_applies_to_the_next_request(client: TestClient, tenant: TenantHandle) -> None:
    member = tenant.add_member("developer")
    assert client.get("/v1/tenant/api-keys", headers=member.headers()).status_code == 200
    client.patch(f"/v1/tenant/members/{member.user_id}", json={"role": "viewer"}, headers=tenant.jwt_headers())
    assert client.get("/v1/tenant/api-keys", headers=member.headers()).status_code == 403


def test_the_last_owner_cannot_leave_or_be_demoted(client: TestClient, tenant: TenantHandle) -> None:
    demote = client.patch(f"/v1/tenant/members/{tenant.owner_id}", json={"role": "admin"}, headers=tenant.jwt_headers())
    leave = client.delete(f"/v1/tenant/members/{tenant.owner_id}", headers=tenant.jwt_headers())
    assert demote.status_code == 409 and leave.status_code == 409


def test_an_admin_cannot_hand_out_or_take_ownership(client: TestClient, tenant: TenantHandle) -> None:
    admin = tenant.add_member("admin")
    promote_self = client.patch(f"/v1/tenant/members/{admin.user_id}", json={"role": "owner"}, headers=admin.headers())
    demote_owner = client.patch(f"/v1/tenant/members/{tenant.owner_id}", json={"role": "viewer"}, headers=admin.headers())
    assert promote_self.status_code == 403 and demote_owner.status_code == 403


def test_oauth_client_credentials_grant_with_form_fields_and_basic_auth(client: TestClient, tenant: TenantHandle) -> None:
    created = client.post("/v1/tenant/oauth-clients", json={"name": "svc"}, headers=tenant.jwt_headers()).json()["data"]
    assert created["client_id"].startswith("cli_")
    form = client.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": created["client_id"], "client_secret": created["client_secret"]},
    )
    assert form.status_code == 200, form.text
    assert form.headers["cache-control"] == "no-store"
    basic = base64.b64encode(f"{created['client_id']}:{created['client_secret']}".encode()).decode()
    via_basic = client.post(
        "/v1/oauth/token", data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    )
    assert via_basic.status_code == 200
    token = form.json()["access_token"]
    assert form.json()["token_type"] == "bearer"
    me = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).json()["data"]
    assert me["kind"] == "oauth_client" and me["tenant_id"] == tenant.tenant_id


def test_oauth_token_refuses_bad_secrets_other_grants_and_revoked_clients(client: TestClient, tenant: TenantHandle) -> None:
    created = client.post("/v1/tenant/oauth-clients", json={"name": "svc"}, headers=tenant.jwt_headers()).json()["data"]
    bad = client.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": created["client_id"], "client_secret": "wrong"},
    )
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    other = client.post("/v1/oauth/token", data={"grant_type": "password", "username": "a", "password": "b"})
    assert other.status_code == 400 and other.json()["error"] == "unsupported_grant_type"
    good = client.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": created["client_id"], "client_secret": created["client_secret"]},
    ).json()["access_token"]
    client.delete(f"/v1/tenant/oauth-clients/{created['client_id']}", headers=tenant.jwt_headers())
    assert client.get("/v1/users", headers={"Authorization": f"Bearer {good}"}).status_code == 401


def test_password_change(client: TestClient, tenant: TenantHandle) -> None:
    response = client.post(
        "/v1/auth/password",
        json={"current_password": PASSWORD, "new_password": "an even longer passphrase"},
        headers=tenant.jwt_headers(),
    )
    assert response.status_code == 200
    assert client.post("/v1/auth/login", json={"email": tenant.owner_email, "password": PASSWORD}).status_code == 401
    login = client.post("/v1/auth/login", json={"email": tenant.owner_email, "password": "an even longer passphrase"})
    assert login.status_code == 200


def test_a_member_of_two_organisations_chooses_one_at_login(client: TestClient) -> None:
    first, second = create_tenant(client, "First"), create_tenant(client, "Second")
    second.join(first.owner_email, "viewer")
    default = client.post("/v1/auth/login", json={"email": first.owner_email, "password": PASSWORD}).json()["data"]
    chosen = client.post(
        "/v1/auth/login", json={"email": first.owner_email, "password": PASSWORD, "tenant_id": second.tenant_id}
    ).json()["data"]
    me_default = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {default['access_token']}"}).json()["data"]
    me_chosen = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {chosen['access_token']}"}).json()["data"]
    assert (me_default["tenant_id"], me_default["role"]) == (first.tenant_id, "owner")
    assert (me_chosen["tenant_id"], me_chosen["role"]) == (second.tenant_id, "viewer")
    not_member = client.post(
        "/v1/auth/login", json={"email": second.owner_email, "password": PASSWORD, "tenant_id": first.tenant_id}
    )
    assert not_member.status_code == 401


def test_a_password_is_kept_exactly_as_typed(client: TestClient) -> None:
    email = f"spaces-{secrets.token_hex(4)}@example.com"
    password = "  correct horse battery\t"
    signup = client.post("/v1/auth/signup", json={"email": email, "password": password, "organization_name": "Spaces"})
    assert signup.status_code == 201
    assert client.post("/v1/auth/login", json={"email": email, "password": password}).status_code == 200
    # The password is not its trimmed form: the surrounding blanks are part of it.
    assert client.post("/v1/auth/login", json={"email": email, "password": password.strip()}).status_code == 401


def test_blanks_count_towards_a_passwords_length(client: TestClient) -> None:
    too_long = "\t" + "x" * 256  # 257 characters: the tab is not trimmed away to fit the limit
    answer = client.post(
        "/v1/auth/signup",
        json={"email": f"long-{secrets.token_hex(4)}@example.com", "password": too_long, "organization_name": "Long"},
    )
    assert answer.status_code == 422 and answer.json()["code"] == "REQ_422"
    assert answer.json()["details"][0]["loc"][-1] == "password"
