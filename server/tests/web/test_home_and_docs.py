"""``/`` and ``/docs`` over HTTP: a page of our own, the docs from this origin alone, and the
pages' security headers on both."""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.testclient import TestClient

from memoryos_server.settings import Settings
from tests.fixtures.passport import client_from, fresh_ip, sign_in


def _csp(response) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in (p.strip() for p in policy.split(";")) if part}


def test_the_landing_page_is_a_page_with_the_ways_in(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    links = set(re.findall(r'href="([^"]+)"', response.text))
    assert {"/login?next=/manage", "/docs", "/openapi.json", "/healthz", "/readyz"} <= links
    assert "/dashboard" in links  # the organisation's console (it asks to sign in: a 303)
    assert "<script" not in response.text
    for link in links:  # every link leads somewhere
        assert urlsplit(link).netloc == "", link
        assert client.get(link, follow_redirects=False).status_code in (200, 303), link
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    csp = _csp(response)
    assert csp["default-src"] == ["'self'"] and csp["frame-ancestors"] == ["'none'"]


def test_the_landing_page_knows_a_signed_in_passport_user(app: FastAPI, client: TestClient, settings: Settings) -> None:
    passport = sign_in(app, client, settings)
    browser = client_from(app, fresh_ip())
    browser.cookies.set("memoryos_uui_session", passport.session_token)
    page = browser.get("/").text
    assert 'href="/manage"' in page and "Open your Memory Passport" in page
    assert "Sign in to your Memory Passport" not in page


def test_the_docs_load_everything_from_this_origin(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    references = re.findall(r'(?:href|src)="([^"]+)"', response.text) + re.findall(r"url: '([^']+)'", response.text)
    assert len(references) >= 4  # stylesheet, icon, script, the OpenAPI document
    types = {"swagger-ui-bundle.js": "javascript", "swagger-ui.css": "text/css", "favicon-32x32.png": "image/png"}
    for reference in references:
        assert reference.startswith("/") and not reference.startswith("//"), reference
        asset = client.get(reference)
        assert asset.status_code == 200, reference
        name = reference.rsplit("/", 1)[-1]
        if name in types:
            assert types[name] in asset.headers["content-type"], (reference, asset.headers["content-type"])
            assert asset.headers["X-Content-Type-Options"] == "nosniff"
    assert set(types) <= {reference.rsplit("/", 1)[-1] for reference in references}
    assert client.get("/openapi.json").json()["info"]["title"] == "MemoryOS"


def test_the_docs_page_has_the_pages_security_headers(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    csp = _csp(response)
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["default-src"] == ["'none'"]
    for directive in ("style-src", "img-src", "connect-src"):
        assert "'self'" in csp[directive] and not any(s.startswith(("http", "'unsafe")) for s in csp[directive])
    # Scripts: this origin, and the one inline start-up script by its hash; nothing unsafe.
    inline = re.findall(r"<script>(.*?)</script>", response.text, re.DOTALL)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
    assert csp["script-src"] == ["'self'", f"'sha256-{digest}'"]


def test_only_the_docs_files_are_served_and_redoc_is_off(client: TestClient) -> None:
    asset = re.search(r'src="(/static/docs/[^"]+)/swagger-ui-bundle.js"', client.get("/docs").text)
    assert asset
    prefix = asset.group(1)
    assert client.get(f"{prefix}/index.html").status_code == 404  # the package's demo page
    assert client.get(f"{prefix}/swagger-initializer.js").status_code == 404
    assert client.get("/static/docs/swagger-ui-0.0.0/swagger-ui.css").status_code == 404
    assert client.get("/redoc").status_code == 404
    assert client.get("/static/app.css").status_code == 200  # the pages' stylesheet still served


def test_the_browsers_own_icon_request_is_answered(client: TestClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert icon.content.startswith(b"<svg")
    page = client.get("/")
    assert 'rel="icon" href="/static/favicon.svg"' in page.text
