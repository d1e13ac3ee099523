"""The consent app over HTTP without a browser: cookies, CSRF, headers, redirects, limits."""

from __future__ import annotations

import re
import secrets

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from memoryos_server.services.runtime import Runtime
from memoryos_server.settings import Settings
from memoryos_server.web.redirects import local_path, with_query
from memoryos_server.web.sealed import SealedCookie
from tests.fixtures.passport import client_from, fresh_ip, latest_code, new_agent  # noqa: F401

PAGES = ["/login", "/consent?agent_id=00000000-0000-0000-0000-000000000000"]


def _csrf(response_text: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', response_text)
    assert match, "the page has no CSRF token"
    return match.group(1)


def _sign_in(browser: TestClient, settings: Settings, email: str) -> None:
    token = _csrf(browser.get("/login").text)
    sent = browser.post("/login", data={"csrf_token": token, "email": email, "next": "/manage"}, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == "/login/code"
    form = browser.get("/login/code")
    assert email in form.text
    signed = browser.post(
        "/login/code", data={"csrf_token": _csrf(form.text), "code": latest_code(settings.resolved_outbox_dir, email)}, follow_redirects=False
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/manage", signed.text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "/manage"),
        ("", "/manage"),
        ("/manage/memories?category=fact", "/manage/memories?category=fact"),
        ("/consent?agent_id=x&state=a%2Fb", "/consent?agent_id=x&state=a%2Fb"),
        ("https://evil.example/", "/manage"),
        ("//evil.example", "/manage"),
        ("/\\evil.example", "/manage"),
        ("/\t/evil.example", "/manage"),
        ("javascript:alert(1)", "/manage"),
        ("manage", "/manage"),
        ("/" + "a" * 5000, "/manage"),
    ],
)
def test_local_path_never_leaves_the_site(value: str | None, expected: str) -> None:
    assert local_path(value) == expected


def test_with_query_keeps_the_registered_query() -> None:
    assert with_query("https://app.example/cb?tenant=7", {"status": "granted", "state": "a&b", "code": None}) == (
        "https://app.example/cb?tenant=7&status=granted&state=a%26b"
    )


def test_sealed_cookies_cannot_be_forged_or_swapped() -> None:
    key = secrets.token_bytes(32)
    flash = SealedCookie(key, "memoryos_flash", max_age=60)
    login = SealedCookie(key, "memoryos_login", max_age=60)
    sealed = flash.seal({"kind": "ok", "text": "hello"})
    assert flash.open(sealed) == {"kind": "ok", "text": "hello"}
    assert login.open(sealed) is None  # the cookie's name is bound in
    assert flash.open(sealed[:-2] + ("AA" if not sealed.endswith("AA") else "BB")) is None
    assert flash.open("not base64 !!") is None and flash.open(None) is None
    expired = SealedCookie(key, "memoryos_flash", max_age=-1)
    assert flash.open(expired.seal({"kind": "ok", "text": "old"})) is None


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_html_without_scripts_and_with_strict_headers(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.headers["content-type"].startswith("text/html")
    assert "<script" not in response.text.lower()
    assert response.headers["x-frame-options"] == "DENY" and response.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert 'lang="en"' in response.text and 'name="viewport"' in response.text


def test_domain_errors_on_pages_are_pages_not_json(client: TestClient) -> None:
    unknown = client.get("/consent?agent_id=00000000-0000-0000-0000-000000000000")
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith("text/html")
    assert "find this agent" in unknown.text and 'role="alert"' in unknown.text
    # The JSON API keeps its envelope for the same error.
    api = client.get("/v1/agents/global/00000000-0000-0000-0000-000000000000")
    assert api.status_code == 404 and api.json()["code"] == "AGN_404"
    mistyped = client.get("/manage/agentz")
    assert mistyped.status_code == 404 and mistyped.headers["content-type"].startswith("text/html")


def test_malformed_page_addresses_get_a_page(app: FastAPI, client: TestClient, settings: Settings) -> None:
    browser = client_from(app, fresh_ip())
    _sign_in(browser, settings, f"malformed-{secrets.token_hex(4)}@example.com")
    for path in ("/manage/memories/not-a-uuid/history", "/consent?agent_id=" + "x" * 3000, "/manage/activity?cursor=abc"):
        answer = browser.get(path)
        assert answer.status_code == 400 and answer.headers["content-type"].startswith("text/html"), path
    unknown = browser.get("/manage/memories/00000000-0000-0000-0000-000000000000/history")
    assert unknown.status_code == 404 and "This memory no longer exists" in unknown.text


def test_a_stale_session_cookie_is_dropped_on_the_way_to_sign_in(app: FastAPI, client: TestClient, new_agent) -> None:  # type: ignore[no-untyped-def]
    agent = new_agent()
    browser = client_from(app, fresh_ip())
    browser.cookies.set("memoryos_uui_session", "mps_" + "x" * 43)
    for path in (f"/consent?agent_id={agent.id}", "/manage/agents"):
        answer = browser.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")
        assert any(c.startswith('memoryos_uui_session=""') for c in answer.headers.get_list("set-cookie")), path


def test_a_form_without_its_token_or_from_elsewhere_is_refused(app: FastAPI, client: TestClient) -> None:
    browser = client_from(app, fresh_ip())
    token = _csrf(browser.get("/login").text)
    missing = browser.post("/login", data={"email": "x@example.com"})
    assert missing.status_code == 403 and "This form has expired" in missing.text
    forged = browser.post("/login", data={"email": "x@example.com", "csrf_token": "0" * 64})
    assert forged.status_code == 403
    elsewhere = browser.post(
        "/login", data={"email": "x@example.com", "csrf_token": token}, headers={"Origin": "https://evil.example"}
    )
    assert elsewhere.status_code == 403
    # Another browser's token does not work with this browser's cookie.
    other = client_from(app, fresh_ip())
    other_token = _csrf(other.get("/login").text)
    assert browser.post("/login", data={"email": "x@example.com", "csrf_token": other_token}).status_code == 403
    ok = browser.post("/login", data={"email": "x@example.com", "csrf_token": token}, follow_redirects=False)
    assert ok.status_code == 303


def test_the_session_cookie_is_secure_over_https(app: FastAPI, client: TestClient, settings: Settings) -> None:
    browser = TestClient(app, base_url="https://testserver", client=(fresh_ip(), 50000), raise_server_exceptions=False)
    email = f"https-{secrets.token_hex(4)}@example.com"
    token = _csrf(browser.get("/login").text)
    browser.post("/login", data={"csrf_token": token, "email": email}, follow_redirects=False)
    form = browser.get("/login/code")
    signed = browser.post(
        "/login/code", data={"csrf_token": _csrf(form.text), "code": latest_code(settings.resolved_outbox_dir, email)}, follow_redirects=False
    )
    cookie = next(value for value in signed.headers.get_list("set-cookie") if value.startswith("memoryos_uui_session="))
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie


def test_the_code_form_without_a_pending_address_starts_over(app: FastAPI, client: TestClient) -> None:
    browser = client_from(app, fresh_ip())
    assert browser.get("/login/code", follow_redirects=False).headers["location"] == "/login"
    token = _csrf(browser.get("/login").text)
    posted = browser.post("/login/code", data={"csrf_token": token, "code": "123456"}, follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"] == "/login"


def test_an_invalid_email_is_said_so(app: FastAPI, client: TestClient) -> None:
    browser = client_from(app, fresh_ip())
    token = _csrf(browser.get("/login").text)
    answer = browser.post("/login", data={"csrf_token": token, "email": "not an address"})
    assert answer.status_code == 422 and "Enter a valid email address" in answer.text


def test_sending_codes_is_rate_limited_per_network_address(app: FastAPI, client: TestClient, settings: Settings) -> None:
    browser = client_from(app, fresh_ip())
    token = _csrf(browser.get("/login").text)
    for n in range(settings.otp_send_per_ip_per_hour):
        sent = browser.post("/login", data={"csrf_token": token, "email": f"ip-{n}-{secrets.token_hex(3)}@example.com"}, follow_redirects=False)
        assert sent.status_code == 303, sent.text
    refused = browser.post("/login", data={"csrf_token": token, "email": "one-more@example.com"})
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert "Too many codes were asked for" in refused.text


def test_pages_need_a_session_and_come_back_after_it(app: FastAPI, client: TestClient, settings: Settings) -> None:
    browser = client_from(app, fresh_ip())
    for path in ("/manage", "/manage/agents", "/manage/memories?category=goal", "/manage/questions", "/manage/activity", "/manage/export", "/manage/delete", "/consent/complete"):
        answer = browser.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next="), path
    token = _csrf(browser.get("/login").text)
    posted = browser.post("/manage/delete", data={"csrf_token": token, "confirm": "DELETE"}, follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"].startswith("/login?next=")
    _sign_in(browser, settings, f"pages-{secrets.token_hex(4)}@example.com")
    assert browser.get("/manage/agents").status_code == 200


def test_logging_out_ends_the_session_everywhere(app: FastAPI, client: TestClient, runtime: Runtime, settings: Settings) -> None:
    browser = client_from(app, fresh_ip())
    _sign_in(browser, settings, f"logout-{secrets.token_hex(4)}@example.com")
    session_token = browser.cookies.get("memoryos_uui_session")
    assert client.get("/v1/uui/me", headers={"X-MemoryOS-Session": session_token}).status_code == 200
    page = browser.get("/manage/agents")
    out = browser.post("/logout", data={"csrf_token": _csrf(page.text)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert client.get("/v1/uui/me", headers={"X-MemoryOS-Session": session_token}).json()["code"] == "UUI_401"
