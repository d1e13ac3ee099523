"""The Passport over MCP, OAuth side (docs/mcp.md): discovery, registration, the consent step,
codes, PKCE, refresh rotation, resource binding, revocation and limits. Both databases.

Each test is an MCP client that does by hand what the official client does (tests/fixtures/
mcp_oauth.py), so it can send what a broken or hostile client would.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from memoryos_server.app import create_app
from memoryos_server.services.runtime import Runtime
from memoryos_server.settings import Settings
from tests.fixtures.contract import check_contract
from tests.fixtures.mcp_oauth import REDIRECT_URI, authorize, call, consent, pkce, register, token
from tests.fixtures.pages import signed_in_browser, text_of
from tests.fixtures.passport import PassportHandle, client_from, fresh_ip, new_passport  # noqa: F401

RESOURCE = "http://127.0.0.1:8080/mcp"  # the suite's servers are configured for this public URL


@pytest.fixture
def browser(app: FastAPI, settings: Settings, new_passport: Callable[..., PassportHandle]) -> TestClient:  # noqa: F811
    """A person's own browser, signed in to the consent app."""
    person = new_passport()
    return signed_in_browser(app, settings.resolved_outbox_dir, person.email)


def _refresh(client: TestClient, granted: Any, refresh_token: str, **extra: str) -> Any:
    return token(client, grant_type="refresh_token", refresh_token=refresh_token, client_id=granted.client_id, **extra)


# --- discovery ---------------------------------------------------------------------------------------


def test_the_endpoint_challenges_and_the_documents_lead_to_the_authorization_server(client: TestClient) -> None:
    refused = call(client, None, "tools/list")
    assert refused.status_code == 401
    challenge = refused.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'resource_metadata="http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp"' in challenge
    assert 'scope="memory:*:read"' in challenge
    assert call(client, "mcpat_made-up", "tools/list").status_code == 401

    resource = client.get("/.well-known/oauth-protected-resource/mcp").json()
    assert resource == client.get("/.well-known/oauth-protected-resource").json()
    assert resource["resource"] == RESOURCE and resource["authorization_servers"] == ["http://127.0.0.1:8080"]
    metadata = client.get("/.well-known/oauth-authorization-server").json()
    assert metadata["issuer"] == "http://127.0.0.1:8080"
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert metadata["grant_types_supported"] == ["authorization_code", "refresh_token"]
    assert metadata["client_id_metadata_document_supported"] is True
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert {"memory:preference:read", "memory:goal:write", "memory:*:read"} <= set(metadata["scopes_supported"])
    for endpoint in ("token_endpoint", "registration_endpoint", "revocation_endpoint", "authorization_endpoint"):
        assert metadata[endpoint].startswith("http://127.0.0.1:8080/")
    # A browser-based client may read them and call the endpoints from its own origin.
    preflight = client.options("/register", headers={"Origin": "https://inspector.example", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 204 and preflight.headers["access-control-allow-origin"] == "*"
    assert "Content-Type" in preflight.headers["access-control-allow-headers"]


# --- registration (RFC 7591) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ({"redirect_uris": []}, "invalid_redirect_uri"),
        ({"redirect_uris": ["http://evil.example/cb"]}, "invalid_redirect_uri"),  # http only on loopback
        ({"redirect_uris": ["javascript:alert(1)"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://app.example/cb#frag"]}, "invalid_redirect_uri"),
        ({"token_endpoint_auth_method": "private_key_jwt"}, "invalid_client_metadata"),
        ({"grant_types": ["client_credentials"]}, "invalid_client_metadata"),
        ({"scope": "memory:everything:read"}, "invalid_scope"),
        ({"client_name": "x" * 201}, "invalid_client_metadata"),
    ],
)
def test_registration_refuses_what_it_cannot_honour(client: TestClient, metadata: dict[str, Any], error: str) -> None:
    body = {"client_name": "Bad", "redirect_uris": [REDIRECT_URI], **metadata}
    response = client.post("/register", json=body)
    assert response.status_code == 400 and response.json()["error"] == error, response.text


def test_registration_of_public_and_confidential_clients(client: TestClient) -> None:
    public = register(client, redirect_uris=["http://127.0.0.1/callback", "com.example.desk:/oauth"], scope="memory:goal:read")
    assert public["client_id"].startswith("mcpc_") and "client_secret" not in public
    assert public["token_endpoint_auth_method"] == "none" and public["scope"] == "memory:goal:read"
    confidential = client.post("/register", json={"client_name": "Server app", "redirect_uris": ["https://app.example/cb"]})
    assert confidential.status_code == 201 and confidential.headers["cache-control"] == "no-store"
    body = confidential.json()
    # RFC 7591's default method: a secret, shown once.
    assert body["token_endpoint_auth_method"] == "client_secret_basic" and body["client_secret"].startswith("mcpcs_")
    assert client.post("/register", content=b"{not json", headers={"Content-Type": "application/json"}).json()["error"] == "invalid_client_metadata"


# --- the consent step ---------------------------------------------------------------------------------


def test_approve_sends_a_code_back_with_state_and_issuer(client: TestClient, browser: TestClient) -> None:
    registered = register(client)
    _, query, location = consent(browser, registered["client_id"], categories=["preference", "goal"], state="s-123")
    assert location.startswith(REDIRECT_URI + "?")
    assert query["code"].startswith("mcpac_") and query["state"] == "s-123" and query["iss"] == "http://127.0.0.1:8080"
    grants = client.get("/v1/uui/me/grants", headers={"X-MemoryOS-Session": browser.cookies["memoryos_uui_session"]}).json()["data"]
    (grant,) = [g for g in grants if g["agent"]["name"] == "Desk Assistant"]
    assert grant["categories_allowed"] == ["preference", "goal"] and grant["access_type"] == "read_only"


def test_deny_answers_access_denied_and_grants_nothing(client: TestClient, browser: TestClient) -> None:
    registered = register(client, client_name="Nosy Notes")
    _, query, _ = consent(browser, registered["client_id"], categories=["fact"], decision="deny", state="s-9")
    assert query == {"error": "access_denied", "error_description": "the person declined", "state": "s-9", "iss": "http://127.0.0.1:8080"}
    grants = client.get("/v1/uui/me/grants", headers={"X-MemoryOS-Session": browser.cookies["memoryos_uui_session"]}).json()["data"]
    assert not [g for g in grants if g["agent"]["name"] == "Nosy Notes"]


def test_an_unregistered_redirect_uri_is_refused_on_the_page_not_redirected(client: TestClient, browser: TestClient) -> None:
    registered = register(client)
    _, challenge = pkce()
    base = {"response_type": "code", "client_id": registered["client_id"], "code_challenge": challenge, "code_challenge_method": "S256"}
    for wrong in ("https://evil.example/callback", "http://127.0.0.1:8765/other", "http://localhost:8765/callback"):
        page = browser.get("/authorize", params={**base, "redirect_uri": wrong}, follow_redirects=False)
        assert page.status_code == 400 and "location" not in page.headers
        assert "not registered for the client" in text_of(page.text)
    unknown = browser.get("/authorize", params={**base, "client_id": "mcpc_nobody", "redirect_uri": REDIRECT_URI}, follow_redirects=False)
    assert unknown.status_code == 400 and "location" not in unknown.headers
    # A native app's loopback redirect may come back on any port (RFC 8252 §7.3).
    other_port = browser.get("/authorize", params={**base, "redirect_uri": "http://127.0.0.1:50123/callback"}, follow_redirects=False)
    assert other_port.status_code == 200


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "memory:diary:read"}, "invalid_scope"),
        ({"resource": "https://elsewhere.example/mcp"}, "invalid_target"),
    ],
)
def test_other_faults_go_back_to_the_client(client: TestClient, browser: TestClient, change: dict[str, Any], error: str) -> None:
    registered = register(client)
    _, challenge = pkce()
    params = {
        "response_type": "code", "client_id": registered["client_id"], "redirect_uri": REDIRECT_URI, "state": "s-1",
        "code_challenge": challenge, "code_challenge_method": "S256", **change,
    }
    answer = browser.get("/authorize", params={k: v for k, v in params.items() if v is not None}, follow_redirects=False)
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith(REDIRECT_URI) and f"error={error}" in location and "state=s-1" in location


def test_the_person_signs_in_first(app: FastAPI, client: TestClient) -> None:
    registered = register(client)
    _, challenge = pkce()
    stranger = client_from(app, fresh_ip())
    params = {"response_type": "code", "client_id": registered["client_id"], "redirect_uri": REDIRECT_URI,
              "code_challenge": challenge, "code_challenge_method": "S256"}
    answer = stranger.get("/authorize", params=params, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=%2Fauthorize%3F")


# --- codes and PKCE ------------------------------------------------------------------------------------


def test_a_replayed_code_is_refused_and_revokes_what_it_started(client: TestClient, browser: TestClient) -> None:
    granted = authorize(client, browser, categories=["preference"])
    assert call(client, granted.tokens["access_token"], "tools/list").status_code == 200
    again = token(client, grant_type="authorization_code", code=granted.code, redirect_uri=REDIRECT_URI,
                  client_id=granted.client_id, code_verifier=granted.verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert again.headers["cache-control"] == "no-store"
    # Whoever replayed it, the tokens the code started are not safe any more.
    assert call(client, granted.tokens["access_token"], "tools/list").status_code == 401
    assert _refresh(client, granted, granted.tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_a_wrong_pkce_verifier_is_refused_and_spends_the_code(client: TestClient, browser: TestClient) -> None:
    registered = register(client)
    verifier, query, _ = consent(browser, registered["client_id"], categories=["goal"])
    base = {"grant_type": "authorization_code", "code": query["code"], "redirect_uri": REDIRECT_URI, "client_id": registered["client_id"]}
    wrong = token(client, **base, code_verifier=pkce()[0])
    assert wrong.status_code == 400 and wrong.json() == {"error": "invalid_grant", "error_description": "the code_verifier does not match the code_challenge"}
    assert token(client, **base, code_verifier=verifier).json()["error"] == "invalid_grant"


def test_a_code_is_bound_to_its_client_and_redirect_uri(client: TestClient, browser: TestClient) -> None:
    registered = register(client)
    other = register(client, client_name="Other App")
    verifier, query, _ = consent(browser, registered["client_id"], categories=["goal"])
    base = {"grant_type": "authorization_code", "code": query["code"], "code_verifier": verifier}
    assert token(client, **base, redirect_uri=REDIRECT_URI, client_id=other["client_id"]).json()["error"] == "invalid_grant"
    moved = token(client, **base, redirect_uri="http://127.0.0.1:9/callback", client_id=registered["client_id"])
    assert moved.json()["error"] == "invalid_grant"


def test_client_authentication_at_the_token_endpoint(client: TestClient, browser: TestClient) -> None:
    confidential = client.post("/register", json={"client_name": "Server app", "redirect_uris": [REDIRECT_URI],
                                                  "token_endpoint_auth_method": "client_secret_post"}).json()
    verifier, query, _ = consent(browser, confidential["client_id"], categories=["goal"])
    base = {"grant_type": "authorization_code", "code": query["code"], "redirect_uri": REDIRECT_URI,
            "client_id": confidential["client_id"], "code_verifier": verifier}
    refused = token(client, **base, client_secret="mcpcs_wrong")
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert token(client, **base).status_code == 401
    assert token(client, **base, client_secret=confidential["client_secret"]).status_code == 200
    assert token(client, grant_type="password", client_id=confidential["client_id"]).json()["error"] == "unsupported_grant_type"
    assert token(client, grant_type="authorization_code", client_id="mcpc_unknown").status_code == 401


# --- refresh tokens --------------------------------------------------------------------------------------


def test_refresh_tokens_rotate_and_an_old_one_revokes_the_family(client: TestClient, browser: TestClient) -> None:
    granted = authorize(client, browser, categories=["preference", "goal"])
    first = granted.tokens
    rotated = _refresh(client, granted, first["refresh_token"], resource=RESOURCE)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    assert second["scope"] == "memory:preference:read memory:goal:read"
    assert call(client, second["access_token"], "tools/list").status_code == 200
    # The first refresh token again: someone holds a copy. The whole family ends.
    reused = _refresh(client, granted, first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert call(client, second["access_token"], "tools/list").status_code == 401
    assert _refresh(client, granted, second["refresh_token"]).json()["error"] == "invalid_grant"


def test_a_client_asking_for_a_category_the_person_unticked(client: TestClient, browser: TestClient) -> None:
    """The client asked for every category; the person ticked two. More is refused, less is narrowed."""
    granted = authorize(client, browser, categories=["preference", "goal"], access_type="read_write")
    assert granted.tokens["scope"] == "memory:preference:write memory:goal:write"
    more = _refresh(client, granted, granted.tokens["refresh_token"], scope="memory:preference:read memory:fact:read")
    assert more.status_code == 400 and more.json()["error"] == "invalid_scope"
    # Refused before the rotation: the refresh token still works.
    narrowed = _refresh(client, granted, granted.tokens["refresh_token"], scope="memory:goal:read")
    assert narrowed.status_code == 200 and narrowed.json()["scope"] == "memory:goal:read"
    from tests.fixtures.mcp_oauth import tool

    access = tool(client, narrowed.json()["access_token"], "my_access")
    assert access["can_read"] == ["goal"] and access["can_write"] == []
    added = tool(client, narrowed.json()["access_token"], "add_memory", {"messages": [{"role": "user", "content": "My goal is to learn Rust."}]})
    assert "read-only access" in added["error"]
    unticked = tool(client, narrowed.json()["access_token"], "get_context", {"query": "where do I live", "categories": ["fact"]})
    assert unticked["memories"] == [] and unticked["permission_status"] == "categories_not_granted"


# --- resource indicators (RFC 8707) ---------------------------------------------------------------------------


@pytest.fixture
def elsewhere(runtime: Runtime) -> Iterator[TestClient]:
    """The same passport service under another public URL: a token it mints is for another resource."""
    settings = runtime.settings.model_copy(update={"public_url": "https://memory.example.net"})
    other = check_contract(create_app(settings, runtime=dataclasses.replace(runtime, settings=settings), migrate=False))
    with TestClient(other, base_url="https://memory.example.net") as test_client:
        yield test_client


def test_a_token_minted_for_another_resource_is_refused(
    app: FastAPI, client: TestClient, elsewhere: TestClient, settings: Settings, new_passport: Callable[..., PassportHandle]  # noqa: F811
) -> None:
    person = new_passport()
    there = signed_in_browser(elsewhere.app, settings.resolved_outbox_dir, person.email, base_url="https://memory.example.net")  # type: ignore[arg-type]
    granted = authorize(elsewhere, there, categories=["goal"])
    assert call(elsewhere, granted.tokens["access_token"], "tools/list").status_code == 200
    refused = call(client, granted.tokens["access_token"], "tools/list")
    assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["www-authenticate"]
    # Nor is its refresh token any good here, and a code asks for the resource it was issued for.
    assert _refresh(client, granted, granted.tokens["refresh_token"]).json()["error"] == "invalid_target"
    wrong_target = _refresh(elsewhere, granted, granted.tokens["refresh_token"], resource=RESOURCE)
    assert wrong_target.status_code == 400 and wrong_target.json()["error"] == "invalid_target"


# --- revocation (RFC 7009) -----------------------------------------------------------------------------------


def test_revocation_ends_the_family_and_says_nothing_about_unknown_tokens(client: TestClient, browser: TestClient) -> None:
    granted = authorize(client, browser, categories=["goal"])
    stranger = register(client, client_name="Stranger")
    # Another client cannot revoke it.
    assert client.post("/revoke", data={"token": granted.tokens["access_token"], "client_id": stranger["client_id"]}).status_code == 200
    assert call(client, granted.tokens["access_token"], "tools/list").status_code == 200
    assert client.post("/revoke", data={"token": "mcpat_unknown", "client_id": granted.client_id}).status_code == 200
    assert client.post("/revoke", data={"token": granted.tokens["refresh_token"], "client_id": granted.client_id}).status_code == 200
    assert call(client, granted.tokens["access_token"], "tools/list").status_code == 401
    assert _refresh(client, granted, granted.tokens["refresh_token"]).json()["error"] == "invalid_grant"


# --- storage and limits -------------------------------------------------------------------------------------


def test_secrets_are_stored_only_as_hashes(app: FastAPI, client: TestClient, browser: TestClient, runtime: Runtime) -> None:
    confidential = client.post("/register", json={"client_name": "Server app", "redirect_uris": [REDIRECT_URI]}).json()
    granted = authorize(client, browser, categories=["goal"])
    secrets_given = [granted.tokens["access_token"], granted.tokens["refresh_token"], granted.code, confidential["client_secret"]]
    with runtime.db.engine.connect() as connection:
        rows = []
        for table in ("mcp_tokens", "mcp_authorization_codes", "mcp_clients", "mcp_token_families", "audit_events"):
            rows += [repr(tuple(row)) for row in connection.execute(text(f"SELECT * FROM {table}"))]
    dump = "\n".join(rows)
    for secret in secrets_given:
        assert secret not in dump


def test_registration_and_token_requests_are_rate_limited(runtime: Runtime) -> None:
    settings = runtime.settings.model_copy(
        update={"mcp_registrations_per_ip_per_hour": 2, "mcp_token_requests_per_ip_per_minute": 3, "mcp_token_requests_per_client_per_minute": 100}
    )
    limited = create_app(settings, runtime=dataclasses.replace(runtime, settings=settings), migrate=False)
    with TestClient(limited, client=(fresh_ip(), 50000)) as test_client:
        body = {"client_name": "Loop", "redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none"}
        assert [test_client.post("/register", json=body).status_code for _ in range(3)] == [201, 201, 429]
        refused = test_client.post("/register", json=body)
        assert refused.json()["error"] == "temporarily_unavailable" and int(refused.headers["retry-after"]) > 0
        answers = [test_client.post("/token", data={"grant_type": "refresh_token", "refresh_token": "mcprt_x", "client_id": f"mcpc_{secrets.token_hex(4)}"}) for _ in range(4)]
        assert [a.status_code for a in answers] == [401, 401, 401, 429]


def test_switched_off_there_is_no_mcp_endpoint_and_no_authorization_server(runtime: Runtime) -> None:
    settings = runtime.settings.model_copy(update={"mcp_enabled": False})
    off = create_app(settings, runtime=dataclasses.replace(runtime, settings=settings), migrate=False)
    with TestClient(off) as test_client:
        for method, path in (("POST", "/mcp"), ("GET", "/.well-known/oauth-authorization-server"), ("POST", "/register"),
                             ("POST", "/token"), ("GET", "/authorize?client_id=x")):
            assert test_client.request(method, path).status_code == 404, path


def test_an_approval_forged_from_another_site_is_refused(client: TestClient, browser: TestClient) -> None:
    registered = register(client, client_name="Forged")
    _, challenge = pkce()
    form = {"response_type": "code", "client_id": registered["client_id"], "redirect_uri": REDIRECT_URI,
            "code_challenge": challenge, "code_challenge_method": "S256", "decision": "approve", "categories": ["fact"],
            "access_type": "read_write", "duration": "forever"}
    page = browser.get("/authorize", params={k: v for k, v in form.items() if k not in ("decision", "categories", "access_type", "duration")})
    from tests.fixtures.pages import csrf_of

    forged = browser.post("/authorize", data={**form, "csrf_token": csrf_of(page.text)}, headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert forged.status_code == 403 and "location" not in forged.headers
    no_token = browser.post("/authorize", data=form, follow_redirects=False)
    assert no_token.status_code == 403
    grants = client.get("/v1/uui/me/grants", headers={"X-MemoryOS-Session": browser.cookies["memoryos_uui_session"]}).json()["data"]
    assert not [g for g in grants if g["agent"]["name"] == "Forged"]
