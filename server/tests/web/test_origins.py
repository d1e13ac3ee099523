"""Where a browser request says it comes from: the CSRF Origin check of the pages behind a reverse
proxy, and the same rule for changes made through ``/v1/uui/*`` with the session cookie alone."""

from __future__ import annotations

import dataclasses
import re
import secrets

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from memoryos_server.app import create_app
from memoryos_server.origins import origin_of
from memoryos_server.services.runtime import Runtime
from tests.fixtures.passport import connected, fresh_ip, latest_code, new_agent, new_passport, outbox_messages  # noqa: F401

CONSENT = "https://consent.example"
# What the app sees behind the proxy: the proxy's own address in Host, not the public name.
INTERNAL = "https://memoryos-internal:8443"


def _csrf(response_text: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', response_text)
    assert match, "the page has no CSRF token"
    return match.group(1)


@pytest.fixture
def proxied_app(runtime: Runtime, client: TestClient) -> FastAPI:
    """The server as configured behind a reverse proxy: the consent app's public address is
    ``CONSENT``, while requests arrive with ``Host: memoryos-internal:8443``."""
    behind = runtime.settings.model_copy(update={"consent_base_url": CONSENT, "public_url": "https://api.example"})
    return create_app(behind, runtime=dataclasses.replace(runtime, settings=behind))


def _browser(app: FastAPI) -> TestClient:
    return TestClient(app, base_url=INTERNAL, client=(fresh_ip(), 50000), raise_server_exceptions=False)


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://Consent.Example", "https://consent.example:443"),
        ("https://consent.example:443/login?x=1", "https://consent.example:443"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://[::1]/", "http://[::1]:80"),
        ("null", None),
        ("", None),
        ("javascript:alert(1)", None),
        ("https://consent.example:99999", None),
    ],
)
def test_origins_compare_by_scheme_host_and_port(url: str, origin: str | None) -> None:
    assert origin_of(url) == origin


# --- the pages' CSRF check ------------------------------------------------------------------


def _post_login(browser: TestClient, token: str | None, headers: dict[str, str]) -> tuple[int, str]:
    """Ask for a sign-in code for a new address; the status, and the address."""
    email = f"origin-{secrets.token_hex(4)}@example.com"
    data = {"email": email} if token is None else {"email": email, "csrf_token": token}
    return browser.post("/login", data=data, headers=headers, follow_redirects=False).status_code, email


def test_behind_a_proxy_a_form_from_the_consent_base_url_passes(proxied_app: FastAPI, runtime: Runtime) -> None:
    browser = _browser(proxied_app)
    token = _csrf(browser.get("/login").text)
    outbox = runtime.settings.resolved_outbox_dir
    for headers in ({"Origin": CONSENT}, {"Origin": CONSENT + ":443"}, {"Referer": CONSENT + "/login?next=%2Fmanage"}):
        status, email = _post_login(browser, token, headers)
        assert status == 303, headers
        assert latest_code(outbox, email)  # the form did its work
    # Reached directly (no proxy in between), the request's own origin still counts.
    assert _post_login(browser, token, {"Origin": INTERNAL})[0] == 303


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "http://consent.example"},  # the scheme counts now
        {"Origin": "https://consent.example:8443"},  # and the port
        {"Origin": "https://consent.example.evil.example"},
        {"Origin": "http://memoryos-internal:8443"},  # Host matches, scheme does not
        {"Origin": "null"},
        {"Referer": "https://evil.example/login"},
        {"Origin": "https://evil.example", "Referer": CONSENT + "/login"},  # the Origin decides
    ],
)
def test_a_form_from_elsewhere_is_refused_and_changes_nothing(proxied_app: FastAPI, runtime: Runtime, headers: dict[str, str]) -> None:
    browser = _browser(proxied_app)
    token = _csrf(browser.get("/login").text)
    status, email = _post_login(browser, token, headers)
    assert status == 403
    assert outbox_messages(runtime.settings.resolved_outbox_dir, email) == []


def test_without_origin_or_referer_the_token_decides(proxied_app: FastAPI, runtime: Runtime) -> None:
    browser = _browser(proxied_app)
    token = _csrf(browser.get("/login").text)
    assert _post_login(browser, None, {})[0] == 403
    assert _post_login(browser, "0" * 64, {})[0] == 403
    status, email = _post_login(browser, token, {})
    assert status == 303 and latest_code(runtime.settings.resolved_outbox_dir, email)


# --- /v1/uui/* changes made with the session cookie ------------------------------------------


@pytest.fixture
def flaggable(connected, client: TestClient):  # type: ignore[no-untyped-def]
    """A passport user with one memory (written by an agent they allowed to write), and the
    browser-like client holding their session cookie."""
    agent, passport, uui = connected(["preference"], "read_write")
    added = client.post(
        "/v1/universal/memories/add", json={"messages": [{"role": "user", "content": "I prefer green tea."}]}, headers=agent.headers(uui)
    )
    assert added.status_code == 200, added.text
    return passport, added.json()["results"][0]["id"]


def _cookie_client(app: FastAPI, session_token: str) -> TestClient:
    browser = TestClient(app, client=(fresh_ip(), 50000), raise_server_exceptions=False)
    browser.cookies.set("memoryos_uui_session", session_token)
    return browser


def _flagged(client: TestClient, passport, memory_id: str) -> bool:  # type: ignore[no-untyped-def]
    answer = client.get(f"/v1/uui/me/memories/{memory_id}", headers=passport.headers())
    assert answer.status_code == 200, answer.text
    return bool(answer.json()["data"]["flagged"])


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Referer": "https://evil.example/page"},
        {"Origin": "null"},
        {},  # a cookie alone, saying nothing of where it comes from
    ],
)
def test_a_cookie_change_from_elsewhere_is_refused_and_changes_nothing(
    app: FastAPI, client: TestClient, flaggable, headers: dict[str, str]  # type: ignore[no-untyped-def]
) -> None:
    passport, memory_id = flaggable
    browser = _cookie_client(app, passport.session_token)
    grant_id = client.get("/v1/uui/me/grants", headers=passport.headers()).json()["data"][0]["id"]
    attempts = [
        browser.post(f"/v1/uui/me/memories/{memory_id}/flag", headers=headers),
        browser.request("DELETE", f"/v1/uui/me/memories/{memory_id}", headers=headers),
        browser.patch(f"/v1/uui/me/grants/{grant_id}", json={"categories_allowed": ["goal"]}, headers=headers),
        browser.request("DELETE", f"/v1/uui/me/grants/{grant_id}", headers=headers),
        browser.request("DELETE", "/v1/uui/me", headers=headers),
    ]
    for refused in attempts:
        assert refused.status_code == 403, refused.text
        body = refused.json()
        assert body["code"] == "AUTH_003" and body["error"] == "cross_site_request" and body["request_id"]
    assert not _flagged(client, passport, memory_id)
    grants = client.get("/v1/uui/me/grants", headers=passport.headers()).json()["data"]
    assert [(g["status"], g["categories_allowed"]) for g in grants] == [("active", ["preference"])]
    assert client.get("/v1/uui/me", headers=passport.headers()).status_code == 200
    # Reading stays open to the cookie, wherever the page is: a read changes nothing.
    assert browser.get("/v1/uui/me", headers=headers).status_code == 200


def test_a_cookie_change_from_this_site_works(app: FastAPI, client: TestClient, runtime: Runtime, flaggable) -> None:  # type: ignore[no-untyped-def]
    passport, memory_id = flaggable
    browser = _cookie_client(app, passport.session_token)
    consent = runtime.settings.resolved_consent_base_url
    flagged = browser.post(f"/v1/uui/me/memories/{memory_id}/flag", headers={"Origin": consent})
    assert flagged.status_code == 200, flagged.text
    assert _flagged(client, passport, memory_id)
    unflagged = browser.request("DELETE", f"/v1/uui/me/memories/{memory_id}/flag", headers={"Referer": consent + "/manage/memories"})
    assert unflagged.status_code == 200, unflagged.text
    assert not _flagged(client, passport, memory_id)
    # The origin the request was addressed to counts too (here the test client's own).
    own = browser.post(f"/v1/uui/me/memories/{memory_id}/flag", headers={"Origin": "http://testserver"})
    assert own.status_code == 200 and _flagged(client, passport, memory_id)


def test_a_change_with_the_session_header_needs_no_origin(app: FastAPI, client: TestClient, flaggable) -> None:  # type: ignore[no-untyped-def]
    passport, memory_id = flaggable
    other = TestClient(app, client=(fresh_ip(), 50000), raise_server_exceptions=False)
    for headers in ({}, {"Origin": "https://my-own-client.example"}):
        flagged = other.post(f"/v1/uui/me/memories/{memory_id}/flag", headers={**passport.headers(), **headers})
        assert flagged.status_code == 200, flagged.text
        assert other.request("DELETE", f"/v1/uui/me/memories/{memory_id}/flag", headers={**passport.headers(), **headers}).status_code == 200
    # The header wins over a cookie sent along with it.
    both = _cookie_client(app, passport.session_token)
    answer = both.post(f"/v1/uui/me/memories/{memory_id}/flag", headers={**passport.headers(), "Origin": "https://evil.example"})
    assert answer.status_code == 200 and _flagged(client, passport, memory_id)
