"""The tenant dashboard over HTTP: sign-in, sessions, CSRF, roles, and each page on the API's services."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from memoryos.universal import UniversalMemory
from memoryos_server.services.passport.links import consent_url
from tests.fixtures.dashboard import DASHBOARD_COOKIE, dashboard_browser, post_form, shown_once, shown_value
from tests.fixtures.factories import PASSWORD, TenantHandle, invitation_code
from tests.fixtures.pages import csrf_of, text_of
from tests.fixtures.passport import client_from, create_agent, fresh_ip, outbox_messages, sign_in


def _create_agent_on_page(browser: TestClient, **fields: Any) -> tuple[str, str]:
    data = {
        "name": f"Support Copilot {secrets.token_hex(3)}",
        "website_url": "https://yourapp.example",
        "description": "Customer support agent.",
        "categories": ["preference", "fact", "goal"],
        "redirect_uris": "https://yourapp.example/callback\nhttps://yourapp.example/other",
        **fields,
    }
    created = post_form(browser, "/dashboard/passport", "/dashboard/passport/agents", data)
    assert created.status_code == 303, created.text  # type: ignore[attr-defined]
    path = created.headers["location"]  # type: ignore[attr-defined]
    page = browser.get(path)
    assert page.status_code == 200
    return path.rsplit("/", 1)[1], shown_once(page.text)


def test_pages_answer_html_not_json_and_ask_to_sign_in(app: FastAPI) -> None:
    browser = client_from(app, fresh_ip())
    for path in ("/dashboard", "/dashboard/passport", "/dashboard/keys", "/dashboard/members", "/admin"):
        response = browser.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/dashboard/login?next="), path
    login = browser.get("/dashboard/login")
    assert login.status_code == 200 and "text/html" in login.headers["content-type"]
    assert 'type="password"' in login.text and "Content-Security-Policy" in login.headers
    missing = browser.get("/dashboard/nothing-here")
    assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]


def test_sign_in_sets_a_cookie_of_its_own_and_sign_out_ends_it(app: FastAPI, tenant: TenantHandle) -> None:
    browser = dashboard_browser(app, tenant.owner_email)
    cookie = next(c for c in browser.cookies.jar if c.name == DASHBOARD_COOKIE)
    assert cookie.has_nonstandard_attr("HttpOnly") and "memoryos_uui_session" not in browser.cookies
    overview = browser.get("/dashboard")
    assert overview.status_code == 200 and "You are owner here" in text_of(overview.text)
    copied = client_from(app, fresh_ip())  # someone holding a copy of the cookie
    copied.cookies.set(DASHBOARD_COOKIE, cookie.value or "")
    assert copied.get("/dashboard", follow_redirects=False).status_code == 200
    out = post_form(browser, "/dashboard", "/dashboard/logout", {})
    assert out.status_code == 303  # type: ignore[attr-defined]
    assert browser.get("/dashboard", follow_redirects=False).status_code == 303
    # Ended on the server, not only in this browser: the copy is sent to sign in too.
    again = copied.get("/dashboard", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"].startswith("/dashboard/login")


def test_wrong_password_is_refused_and_the_password_is_not_trimmed(app: FastAPI, client: TestClient) -> None:
    email = f"spaces-{secrets.token_hex(4)}@example.com"
    password = "  spaced password  "
    signed = client.post("/v1/auth/signup", json={"email": email, "password": password, "organization_name": "Spaces"})
    assert signed.status_code == 201
    browser = client_from(app, fresh_ip())
    page = browser.get("/dashboard/login")
    wrong = browser.post("/dashboard/login", data={"csrf_token": csrf_of(page.text), "email": email, "password": password.strip()})
    assert wrong.status_code == 401 and "Wrong email or password" in wrong.text
    dashboard_browser(app, email, password)


def test_login_limits_apply(app: FastAPI, tenant: TenantHandle) -> None:
    browser = client_from(app, fresh_ip())
    statuses = []
    for _ in range(12):
        page = browser.get("/dashboard/login")
        answer = browser.post("/dashboard/login", data={"csrf_token": csrf_of(page.text), "email": tenant.owner_email, "password": "nope nope"})
        statuses.append(answer.status_code)
    assert 429 in statuses and "Retry-After" in answer.headers


def test_sign_up_creates_the_organisation_and_signs_in(app: FastAPI) -> None:
    browser = client_from(app, fresh_ip())
    page = browser.get("/dashboard/signup")
    email = f"new-{secrets.token_hex(4)}@example.com"
    done = browser.post(
        "/dashboard/signup",
        data={"csrf_token": csrf_of(page.text), "email": email, "password": PASSWORD, "organization_name": "Globex"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/dashboard/passport"
    assert "Globex" in browser.get("/dashboard").text
    short = browser.post("/dashboard/signup", data={"csrf_token": csrf_of(page.text), "email": "x@example.com", "password": "short", "organization_name": "X"})
    assert short.status_code == 422


def test_forms_need_the_csrf_token_and_this_origin(app: FastAPI, tenant: TenantHandle) -> None:
    browser = dashboard_browser(app, tenant.owner_email)
    missing = browser.post("/dashboard/keys", data={"name": "x"}, follow_redirects=False)
    assert missing.status_code == 403 and "This form has expired" in missing.text
    token = csrf_of(browser.get("/dashboard/keys").text)
    cross = browser.post("/dashboard/keys", data={"csrf_token": token, "name": "x"}, headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    login_page = client_from(app, fresh_ip())
    no_token = login_page.post("/dashboard/login", data={"email": tenant.owner_email, "password": PASSWORD})
    assert no_token.status_code == 403


def test_a_tampered_cookie_is_no_session(app: FastAPI, tenant: TenantHandle) -> None:
    browser = dashboard_browser(app, tenant.owner_email)
    value = browser.cookies.get(DASHBOARD_COOKIE)
    assert value
    browser.cookies.clear()
    browser.cookies.set(DASHBOARD_COOKIE, value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB"))
    answer = browser.get("/dashboard", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/dashboard/login")
    # The passport's session cookie is no dashboard session either.
    other = client_from(app, fresh_ip())
    other.cookies.set(DASHBOARD_COOKIE, tenant.jwt)  # a raw token, not sealed by this server
    assert other.get("/dashboard", follow_redirects=False).status_code == 303


def test_agent_key_is_shown_once_and_works(app: FastAPI, client: TestClient, tenant: TenantHandle) -> None:
    browser = dashboard_browser(app, tenant.owner_email)
    agent_id, key = _create_agent_on_page(browser)
    assert key.startswith("agent_sk_")
    again = browser.get(f"/dashboard/passport/agents/{agent_id}")
    assert key not in again.text and "Pending MemoryOS review" in again.text and agent_id in again.text
    profile = client.get(f"/v1/agents/global/{agent_id}")
    assert profile.status_code == 200 and profile.json()["data"]["default_categories_requested"] == ["preference", "fact", "goal"]
    listed = browser.get("/dashboard/passport")
    assert agent_id in listed.text and "Pending MemoryOS review" in listed.text
    resolve = client.post("/v1/universal/resolve", json={"email": "nobody@example.com"}, headers={"Authorization": f"ApiKey {key}"})
    assert resolve.status_code != 401


def test_rotating_shows_a_new_key_and_the_old_one_fails(app: FastAPI, client: TestClient, tenant: TenantHandle) -> None:
    browser = dashboard_browser(app, tenant.owner_email)
    agent_id, old = _create_agent_on_page(browser)
    path = f"/dashboard/passport/agents/{agent_id}"
    rotated = post_form(browser, path, f"{path}/rotate", {})
    assert rotated.status_code == 303  # type: ignore[attr-defined]
    new = shown_once(browser.get(path).text)
    assert new != old and new.startswith("agent_sk_")
    passport = sign_in(app, client, app.state.settings)
    grant = client.post(
        "/v1/uui/me/grants",
        json={"agent_id": agent_id, "categories_allowed": ["fact"], "access_type": "read_only"},
        headers=passport.headers(),
    )
    assert grant.status_code == 200
    code = client.post(f"/v1/uui/me/grants/{grant.json()['data']['id']}/code", headers=passport.headers())
    if code.status_code == 200:
        raw = code.json()["data"]["code"]
        assert client.post("/v1/universal/consent/exchange", json={"code": raw}, headers={"Authorization": f"ApiKey {old}"}).status_code == 403


def test_grant_counts_per_category_and_delete_ends_grants(app: FastAPI, client: TestClient, tenant: TenantHandle) -> None:
    browser = dashboard_browser(app, tenant.owner_email)
    agent_id, _key = _create_agent_on_page(browser)
    for categories in (["fact", "goal"], ["fact"]):
        passport = sign_in(app, client, app.state.settings)
        granted = client.post(
            "/v1/uui/me/grants",
            json={"agent_id": agent_id, "categories_allowed": categories, "access_type": "read_only"},
            headers=passport.headers(),
        )
        assert granted.status_code == 200, granted.text
    page = text_of(browser.get(f"/dashboard/passport/agents/{agent_id}").text)
    assert "2 people have an active grant" in page
    assert "Facts 2" in page and "Goals 1" in page and "Preferences 0" in page
    path = f"/dashboard/passport/agents/{agent_id}"
    unconfirmed = post_form(browser, path, f"{path}/delete", {})
    assert unconfirmed.headers["location"] == f"{path}/delete"  # type: ignore[attr-defined]
    assert "Delete" in browser.get(f"{path}/delete").text
    deleted = post_form(browser, f"{path}/delete", f"{path}/delete", {"confirm": "yes"})
    assert deleted.status_code == 303  # type: ignore[attr-defined]
    assert browser.get(path).status_code == 404
    grants = client.get("/v1/uui/me/grants", headers=passport.headers()).json()["data"]
    assert all(g["status"] != "active" for g in grants if g.get("agent_id") == agent_id)


def test_consent_url_builder_writes_what_the_sdk_writes(app: FastAPI, tenant: TenantHandle) -> None:
    browser = dashboard_browser(app, tenant.owner_email)
    agent_id, _key = _create_agent_on_page(browser)
    base = app.state.settings.resolved_consent_base_url
    page = browser.get(
        f"/dashboard/passport/agents/{agent_id}",
        params=[("build", "1"), ("categories", "goal"), ("categories", "fact"), ("state", "s t&ate"), ("redirect_uri", "https://yourapp.example/callback")],
    )
    sdk = UniversalMemory.consent_url(
        agent_id, redirect_uri="https://yourapp.example/callback", state="s t&ate", categories=["fact", "goal"], base_url=base
    )
    assert shown_value(page.text, "built-url") == sdk
    for args in [{}, {"state": ""}, {"categories": ["expertise"]}, {"redirect_uri": " "}]:
        assert consent_url(base, agent_id, **args) == UniversalMemory.consent_url(agent_id, base_url=base, **args)


def test_connector_link_generator_makes_a_connect_link(app: FastAPI, tenant: TenantHandle) -> None:
    browser = dashboard_browser(app, tenant.owner_email)
    agent_id, _key = _create_agent_on_page(browser)
    path = f"/dashboard/passport/agents/{agent_id}"
    made = post_form(browser, path, f"{path}/link", {"external_user_id": "test-user-1"})
    assert made.status_code == 303  # type: ignore[attr-defined]
    page = browser.get(path)
    link = shown_once(page.text)
    assert link.startswith(f"{app.state.settings.resolved_consent_base_url}/connect?agent_id={agent_id}&link_token=plink_")
    assert "use it only to check one user flow during development" in text_of(page.text).lower()


def test_api_keys_and_oauth_clients(app: FastAPI, client: TestClient, tenant: TenantHandle) -> None:
    browser = dashboard_browser(app, tenant.owner_email)
    made = post_form(browser, "/dashboard/keys", "/dashboard/keys", {"name": "from-the-page"})
    assert made.status_code == 303  # type: ignore[attr-defined]
    page = browser.get("/dashboard/keys")
    raw = shown_once(page.text)
    assert raw.startswith("mem_") and raw[:12] in page.text and tenant.owner_email in page.text
    assert client.get("/v1/users", headers={"Authorization": f"ApiKey {raw}"}).status_code == 200
    assert raw not in browser.get("/dashboard/keys").text
    key_id = next(k["id"] for k in client.get("/v1/tenant/api-keys", headers=tenant.jwt_headers()).json()["data"] if k["name"] == "from-the-page")
    post_form(browser, "/dashboard/keys", f"/dashboard/keys/{key_id}/revoke", {})
    assert client.get("/v1/users", headers={"Authorization": f"ApiKey {raw}"}).status_code == 401
    post_form(browser, "/dashboard/keys", "/dashboard/oauth-clients", {"name": "worker"})
    page = browser.get("/dashboard/keys")
    secret = shown_once(page.text)
    client_id = next(c["client_id"] for c in client.get("/v1/tenant/oauth-clients", headers=tenant.jwt_headers()).json()["data"] if c["name"] == "worker")
    token = client.post("/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})
    assert token.status_code == 200
    post_form(browser, "/dashboard/keys", f"/dashboard/oauth-clients/{client_id}/revoke", {})
    again = client.post("/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})
    assert again.status_code == 401


def test_a_viewer_sees_no_create_forms_and_a_forged_post_is_refused(app: FastAPI, client: TestClient, tenant: TenantHandle) -> None:
    viewer = tenant.add_member("viewer")
    browser = dashboard_browser(app, viewer.email)
    overview = browser.get("/dashboard")
    assert "/dashboard/passport" not in overview.text and "/dashboard/keys" not in overview.text
    members = browser.get("/dashboard/members")
    assert members.status_code == 200 and "Send invitation" not in members.text and "Remove" not in members.text
    assert browser.get("/dashboard/passport").status_code == 403
    token = csrf_of(overview.text)
    for action, data in [
        ("/dashboard/passport/agents", {"name": "Forged"}),
        ("/dashboard/keys", {"name": "forged"}),
        ("/dashboard/oauth-clients", {"name": "forged"}),
        ("/dashboard/members", {"email": "x@example.com", "role": "admin"}),
        (f"/dashboard/members/{viewer.user_id}/role", {"role": "owner"}),
    ]:
        refused = browser.post(action, data={"csrf_token": token, **data}, follow_redirects=False)
        assert refused.status_code == 403, action
    names = [a["name"] for a in client.get("/v1/agents/global", headers=tenant.jwt_headers()).json()["data"]]
    assert "Forged" not in names


def test_an_agent_of_another_organisation_is_not_found(app: FastAPI, tenant: TenantHandle, new_tenant: Any) -> None:
    other = new_tenant("Other")
    theirs = create_agent(other)
    browser = dashboard_browser(app, tenant.owner_email)
    assert browser.get(f"/dashboard/passport/agents/{theirs.id}").status_code == 404
    token = csrf_of(browser.get("/dashboard").text)
    for suffix in ("rotate", "edit", "link"):
        answer = browser.post(f"/dashboard/passport/agents/{theirs.id}/{suffix}", data={"csrf_token": token, "name": "x", "external_user_id": "u"})
        assert answer.status_code == 404, suffix
    deleted = browser.post(f"/dashboard/passport/agents/{theirs.id}/delete", data={"csrf_token": token, "confirm": "yes"})
    assert deleted.status_code == 404


def test_members_invite_change_role_remove(app: FastAPI, client: TestClient, tenant: TenantHandle) -> None:
    browser = dashboard_browser(app, tenant.owner_email)
    email = f"dev-{secrets.token_hex(4)}@example.com"
    invited = post_form(browser, "/dashboard/members", "/dashboard/members", {"email": email, "role": "developer"})
    assert invited.status_code == 303  # type: ignore[attr-defined]
    assert email in browser.get("/dashboard/members").text
    invitation_id = next(m["invitation_id"] for m in client.get("/v1/tenant/members", headers=tenant.jwt_headers()).json()["data"] if m.get("email") == email)
    code = invitation_code(client, email, invitation_id)
    mail = [m for m in outbox_messages(app.state.settings.resolved_outbox_dir, email) if "invited" in str(m["Subject"])][-1]
    assert f"/dashboard/join/{invitation_id}" in mail.get_content()
    joiner = client_from(app, fresh_ip())
    page = joiner.get(f"/dashboard/join/{invitation_id}")
    joined = joiner.post(f"/dashboard/join/{invitation_id}", data={"csrf_token": csrf_of(page.text), "code": code, "password": PASSWORD}, follow_redirects=False)
    assert joined.status_code == 303 and "developer" in text_of(joiner.get("/dashboard").text)
    user_id = next(m["user_id"] for m in client.get("/v1/tenant/members", headers=tenant.jwt_headers()).json()["data"] if m.get("email") == email and m.get("user_id"))
    post_form(browser, "/dashboard/members", f"/dashboard/members/{user_id}/role", {"role": "analyst"})
    assert "You are analyst here" in text_of(joiner.get("/dashboard").text)
    post_form(browser, "/dashboard/members", f"/dashboard/members/{user_id}/remove", {})
    assert joiner.get("/dashboard", follow_redirects=False).status_code == 303  # removed: signed out


def test_a_member_of_two_organisations_switches(app: FastAPI, tenant: TenantHandle, new_tenant: Any) -> None:
    other = new_tenant("Second Org")
    other.join(tenant.owner_email, "developer")
    browser = dashboard_browser(app, tenant.owner_email)
    first = browser.get("/dashboard")
    assert "Second Org" in first.text  # in the switcher
    switched = post_form(browser, "/dashboard", "/dashboard/switch", {"tenant_id": other.tenant_id})
    assert switched.status_code == 303  # type: ignore[attr-defined]
    assert "You are developer here" in text_of(browser.get("/dashboard").text)
    stranger = new_tenant("Not Mine")
    refused = post_form(browser, "/dashboard", "/dashboard/switch", {"tenant_id": stranger.tenant_id})
    assert refused.status_code == 403  # type: ignore[attr-defined]


def test_invitation_accepted_from_the_dashboard(app: FastAPI, client: TestClient, tenant: TenantHandle, new_tenant: Any) -> None:
    other = new_tenant("Inviting Org")
    invitation_id, code = other.invite(tenant.owner_email, "analyst")
    browser = dashboard_browser(app, tenant.owner_email)
    page = browser.get("/dashboard/invitations")
    assert "Inviting Org" in page.text
    accepted = browser.post(
        f"/dashboard/invitations/{invitation_id}/accept", data={"csrf_token": csrf_of(page.text), "code": code}, follow_redirects=False
    )
    assert accepted.status_code == 303
    assert "Inviting Org" in browser.get("/dashboard").text


def test_the_session_cookie_is_secure_over_https(app: FastAPI, tenant: TenantHandle) -> None:
    browser = client_from(app, fresh_ip())
    browser.base_url = "https://testserver"  # type: ignore[assignment]
    page = browser.get("/dashboard/login")
    signed = browser.post(
        "/dashboard/login",
        data={"csrf_token": csrf_of(page.text), "email": tenant.owner_email, "password": PASSWORD, "next": "/dashboard"},
        follow_redirects=False,
    )
    assert signed.status_code == 303
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith(f"{DASHBOARD_COOKIE}=") and "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_next_never_leaves_the_dashboard(app: FastAPI, tenant: TenantHandle) -> None:
    browser = client_from(app, fresh_ip())
    for next_value, expected in [("https://evil.example/", "/dashboard"), ("//evil.example", "/dashboard"), ("/manage", "/dashboard"), ("/admin", "/admin")]:
        page = browser.get("/dashboard/login")
        signed = browser.post(
            "/dashboard/login",
            data={"csrf_token": csrf_of(page.text), "email": tenant.owner_email, "password": PASSWORD, "next": next_value},
            follow_redirects=False,
        )
        assert signed.headers["location"] == expected, next_value
        browser.cookies.clear()


def test_changing_the_password_from_the_account_page(app: FastAPI, client: TestClient) -> None:
    email = f"pw-{secrets.token_hex(4)}@example.com"
    assert client.post("/v1/auth/signup", json={"email": email, "password": PASSWORD, "organization_name": "Pw"}).status_code == 201
    browser = dashboard_browser(app, email)
    wrong = post_form(browser, "/dashboard/account", "/dashboard/account/password", {"current_password": "nope", "new_password": "another long one"})
    assert wrong.status_code == 303 and "Nothing changed" in browser.get("/dashboard/account").text  # type: ignore[attr-defined]
    changed = post_form(browser, "/dashboard/account", "/dashboard/account/password", {"current_password": PASSWORD, "new_password": " another long one "})
    assert changed.status_code == 303  # type: ignore[attr-defined]
    assert client.post("/v1/auth/login", json={"email": email, "password": " another long one "}).status_code == 200
    assert client.post("/v1/auth/login", json={"email": email, "password": PASSWORD}).status_code == 401
