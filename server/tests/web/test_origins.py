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
from memoryos_server.services.passport import origin_of
from memoryos_server.services.runtime import Runtime
from tests.fixtures.passport import fresh_ip, latest_code, outbox_messages

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
