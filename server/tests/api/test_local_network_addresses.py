"""Addresses on a local network (special-use domains) are taken wherever we take an email.

Whether a message to ``root@localhost`` or ``me@box.local`` arrives is the mail server's
business; a self-hoster's people often have exactly such addresses. Each entry point is tried
with each of them: dashboard sign-up and login, invitations, the passport's JSON sign-in and
the consent app's sign-in page.
"""

from __future__ import annotations

import re
import secrets

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from memoryos_server.settings import Settings
from tests.fixtures.factories import PASSWORD, TenantHandle, invitation_code
from tests.fixtures.passport import client_from, fresh_ip, latest_code

DOMAINS = ["box.local", "b.test", "corp.internal", "localhost"]


def address(domain: str, who: str) -> str:
    """``who-1a2b@domain``: the same kind of address as ``me@box.local``, unique per test, as
    every test shares the session's database."""
    return f"{who}-{secrets.token_hex(3)}@{domain}"


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the page has no CSRF token"
    return match.group(1)


@pytest.mark.parametrize("domain", DOMAINS)
def test_dashboard_sign_up_and_login(client: TestClient, domain: str) -> None:
    email = address(domain, "me")
    signup = client.post("/v1/auth/signup", json={"email": email, "password": PASSWORD, "organization_name": "Home lab"})
    assert signup.status_code == 201, signup.text
    login = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    me = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {login.json()['data']['access_token']}"})
    assert me.json()["data"]["email"] == email


@pytest.mark.parametrize("domain", DOMAINS)
def test_an_invitation_reaches_the_address_and_is_accepted(client: TestClient, tenant: TenantHandle, domain: str) -> None:
    email = address(domain, "colleague")
    invited = client.post("/v1/tenant/members", json={"email": email, "role": "viewer"}, headers=tenant.jwt_headers())
    assert invited.status_code == 201, invited.text
    invitation_id = invited.json()["data"]["invitation_id"]
    joined = client.post(
        f"/v1/auth/invitations/{invitation_id}/signup",
        json={"code": invitation_code(client, email, invitation_id), "password": PASSWORD},
    )
    assert joined.status_code == 201, joined.text


@pytest.mark.parametrize("domain", DOMAINS)
def test_passport_sign_in_over_the_json_api(app: FastAPI, client: TestClient, settings: Settings, domain: str) -> None:
    email = address(domain, "root")
    own = client_from(app, fresh_ip())
    sent = own.post("/v1/uui/otp/send", json={"email": email})
    assert sent.status_code == 200 and sent.json()["data"]["sent"] is True, sent.text
    verified = own.post("/v1/uui/otp/verify", json={"email": email, "otp": latest_code(settings.resolved_outbox_dir, email)})
    assert verified.status_code == 200, verified.text
    assert verified.json()["data"]["email"] == email


@pytest.mark.parametrize("domain", DOMAINS)
def test_passport_sign_in_page(app: FastAPI, client: TestClient, settings: Settings, domain: str) -> None:
    email = address(domain, "x")
    browser = client_from(app, fresh_ip())
    sent = browser.post("/login", data={"csrf_token": _csrf(browser.get("/login").text), "email": email, "next": "/manage"}, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == "/login/code", sent.text
    form = browser.get("/login/code")
    signed = browser.post(
        "/login/code",
        data={"csrf_token": _csrf(form.text), "code": latest_code(settings.resolved_outbox_dir, email)},
        follow_redirects=False,
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/manage"


@pytest.mark.parametrize("bad", ["not an address", "a@", "@box.local", "a b@box.local", "x@-box-.local", "x@[127.0.0.1]"])
def test_what_is_not_an_address_is_still_refused(client: TestClient, bad: str) -> None:
    signup = client.post("/v1/auth/signup", json={"email": bad, "password": PASSWORD, "organization_name": "X"})
    assert signup.status_code == 422 and signup.json()["details"][0]["loc"] == ["body", "email"], signup.text
    sent = client.post("/v1/uui/otp/send", json={"email": bad})
    assert sent.status_code == 422


def test_addresses_are_kept_in_normal_form(client: TestClient) -> None:
    """The domain is case-insensitive: ``Me@Box.LOCAL`` signs in as the account it made."""
    local = f"Me{secrets.token_hex(3)}"
    signup = client.post(
        "/v1/auth/signup", json={"email": f"  {local}@Box.LOCAL ", "password": PASSWORD, "organization_name": "Home lab"}
    )
    assert signup.status_code == 201, signup.text
    login = client.post("/v1/auth/login", json={"email": f"{local.lower()}@box.local", "password": PASSWORD})
    assert login.status_code == 200, login.text
