"""Agent logos come from our origin (SPEC §6): fetched once when the agent is saved, checked,
stored and served by us; the consent and permission pages never load anything from the agent's
site, and their CSP allows images from this origin only.

The logos are served by the loopback provider of ``fixtures/oauth_provider.py``, through the
server that may call loopback (``connector_client``), as the directory's logo tests do.
"""

from __future__ import annotations

import io
import re
import secrets
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image

from memoryos_server.settings import Settings
from tests.fixtures.app import free_port
from tests.fixtures.factories import TenantHandle, create_tenant, operator_headers
from tests.fixtures.oauth_provider import OAuthProvider, tiny_png
from tests.fixtures.passport import client_from, fresh_ip, latest_code

AGENTS = "/v1/agents/global"


def _create(http: TestClient, tenant: TenantHandle, **fields: Any) -> dict[str, Any]:
    body = {"name": "Study Buddy", "redirect_uri": "", **fields}
    response = http.post(AGENTS, json=body, headers=tenant.key_headers())
    assert response.status_code == 201, response.text
    return dict(response.json()["data"])


def _csrf(text: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert match, "the page has no CSRF token"
    return match.group(1)


def _signed_in_browser(http: TestClient, settings: Settings) -> TestClient:
    browser = client_from(http.app, fresh_ip())  # type: ignore[arg-type]
    email = f"logos-{secrets.token_hex(4)}@example.com"
    sent = browser.post("/login", data={"csrf_token": _csrf(browser.get("/login").text), "email": email, "next": "/manage"})
    assert sent.status_code == 200, sent.text
    form = browser.get("/login/code")
    code = latest_code(settings.resolved_outbox_dir, email)
    signed = browser.post("/login/code", data={"csrf_token": _csrf(form.text), "code": code}, follow_redirects=False)
    assert signed.status_code == 303, signed.text
    return browser


def png_of(rgb: tuple[int, int, int], *, size: int, mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (size, size), rgb if mode == "RGB" else 0).save(out, format="PNG", optimize=True)
    return out.getvalue()


def jpeg_of(rgb: tuple[int, int, int], *, comment: bytes) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), rgb).save(out, format="JPEG", comment=comment)
    return out.getvalue()


def pixels_of(image: bytes) -> set[tuple[int, ...]]:
    with Image.open(io.BytesIO(image)) as opened:
        return {color for _count, color in opened.convert("RGBA").getcolors(1 << 24)}


def size_of(image: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(image)) as opened:
        return opened.size


def _img_sources(html: str) -> list[str]:
    return re.findall(r'<img[^>]*\ssrc="([^"]*)"', html)


def test_a_logo_is_fetched_once_stored_and_served_from_our_origin(connector_client: TestClient, provider: OAuthProvider) -> None:
    tenant = create_tenant(connector_client, "Logo Co")
    name = f"agent-{secrets.token_hex(3)}.png"
    provider.files[name] = (tiny_png((10, 120, 200)), "image/png")
    created = _create(connector_client, tenant, logo_url=f"{provider.url}/files/{name}")
    assert created["has_logo"] is True and created["logo_problem"] is None
    assert created["logo_url"] == f"{provider.url}/files/{name}"  # what its organisation registered

    provider.files[name] = (b"changed at the source", "image/png")  # never fetched again for a page
    image = connector_client.get(f"/agents/{created['id']}/logo")
    assert image.status_code == 200 and pixels_of(image.content) == {(10, 120, 200, 255)}
    assert image.headers["content-type"] == "image/png" and image.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in image.headers["content-security-policy"]
    assert image.headers["cross-origin-resource-policy"] == "same-origin"
    public = connector_client.get(f"{AGENTS}/{created['id']}").json()["data"]
    assert public["has_logo"] is True

    # A JPEG is read whatever its server called it, and written again as a PNG without its
    # metadata (here, a comment standing in for a photo's location).
    jpeg = f"agent-{secrets.token_hex(3)}.jpg"
    provider.files[jpeg] = (jpeg_of((200, 40, 40), comment=b"taken at 51.5N 0.1W"), "application/octet-stream")
    second = _create(connector_client, tenant, name="Second", logo_url=f"{provider.url}/files/{jpeg}")
    assert second["has_logo"] is True
    served = connector_client.get(f"/agents/{second['id']}/logo")
    assert served.headers["content-type"] == "image/png" and served.content.startswith(b"\x89PNG")
    assert b"51.5N" not in served.content
    # A large logo is scaled down to 512 px a side.
    large = f"agent-{secrets.token_hex(3)}.png"
    provider.files[large] = (png_of((0, 0, 0), size=1500), "image/png")
    third = _create(connector_client, tenant, name="Third", logo_url=f"{provider.url}/files/{large}")
    assert size_of(connector_client.get(f"/agents/{third['id']}/logo").content) == (512, 512)


def test_a_logo_that_cannot_be_had_leaves_initials_and_the_agent_saved(connector_client: TestClient, provider: OAuthProvider) -> None:
    tenant = create_tenant(connector_client, "Initials Co")
    big, html = f"big-{secrets.token_hex(3)}.png", f"page-{secrets.token_hex(3)}.png"
    fake, bomb = f"fake-{secrets.token_hex(3)}.png", f"bomb-{secrets.token_hex(3)}.png"
    provider.files[big] = (tiny_png() + b"\0" * (256 * 1024), "image/png")
    provider.files[html] = (b"<html><script>alert(1)</script></html>", "image/png")  # lies about its type
    provider.files[fake] = (b"\x89PNG\r\n\x1a\n<svg onload=alert(1)>", "image/png")  # only starts like one
    provider.files[bomb] = (png_of((0, 0, 0), size=20_000, mode="1"), "image/png")  # small file, 400 M pixels
    cases = {
        f"{provider.url}/files/{big}": "larger",
        f"{provider.url}/files/{html}": "PNG, JPEG or WebP",
        f"{provider.url}/files/{fake}": "can be read",
        f"{provider.url}/files/{bomb}": "can be read",
        f"{provider.url}/files/missing.png": "answered 404",
        f"http://127.0.0.1:{free_port()}/logo.png": "could not be fetched",  # nothing listens there
    }
    for url, reason in cases.items():
        created = _create(connector_client, tenant, name=f"Agent {secrets.token_hex(2)}", logo_url=url)
        assert created["has_logo"] is False and reason in created["logo_problem"], (url, created["logo_problem"])
        assert connector_client.get(f"/agents/{created['id']}/logo").status_code == 404
        assert connector_client.get(f"{AGENTS}/{created['id']}").json()["data"]["has_logo"] is False


def test_loopback_logos_are_refused_without_the_allowance(client: TestClient, tenant: TenantHandle, provider: OAuthProvider) -> None:
    """The session's usual server does not call loopback (the outbound address policy)."""
    created = _create(client, tenant, logo_url=f"{provider.url}/files/logo.png")
    assert created["has_logo"] is False and "does not call" in created["logo_problem"]
    assert client.get(f"/agents/{created['id']}/logo").status_code == 404


def test_changing_the_logo_url_fetches_it_again(connector_client: TestClient, provider: OAuthProvider) -> None:
    tenant = create_tenant(connector_client, "Change Co")
    first, second = f"first-{secrets.token_hex(3)}.png", f"second-{secrets.token_hex(3)}.png"
    provider.files[first] = (tiny_png((1, 2, 3)), "image/png")
    provider.files[second] = (tiny_png((4, 5, 6)), "image/png")
    agent = _create(connector_client, tenant, logo_url=f"{provider.url}/files/{first}")
    verified = connector_client.post(
        f"/v1/admin/agents/{agent['id']}/verification", json={"decision": "verified"}, headers=operator_headers(connector_client)
    )
    assert verified.status_code == 200, verified.text

    changed = connector_client.patch(f"{AGENTS}/{agent['id']}", json={"logo_url": f"{provider.url}/files/{second}"}, headers=tenant.key_headers())
    assert changed.status_code == 200, changed.text
    data = changed.json()["data"]
    assert data["has_logo"] is True and data["logo_problem"] is None and data["verification_status"] == "pending"
    assert pixels_of(connector_client.get(f"/agents/{agent['id']}/logo").content) == {(4, 5, 6, 255)}

    # The same address failing this time keeps the image we have; a new one failing drops it.
    del provider.files[second]
    again = connector_client.patch(f"{AGENTS}/{agent['id']}", json={"logo_url": f"{provider.url}/files/{second}"}, headers=tenant.key_headers())
    assert again.json()["data"]["has_logo"] is True and "404" in again.json()["data"]["logo_problem"]
    gone = connector_client.patch(f"{AGENTS}/{agent['id']}", json={"logo_url": f"{provider.url}/files/nothing.png"}, headers=tenant.key_headers())
    assert gone.json()["data"]["has_logo"] is False
    assert connector_client.get(f"/agents/{agent['id']}/logo").status_code == 404
    removed = connector_client.patch(f"{AGENTS}/{agent['id']}", json={"logo_url": None}, headers=tenant.key_headers())
    assert removed.json()["data"]["has_logo"] is False and removed.json()["data"]["logo_problem"] is None


def test_the_consent_page_loads_nothing_from_another_origin(
    connector_client: TestClient, provider: OAuthProvider, settings: Settings
) -> None:
    tenant = create_tenant(connector_client, "Consent Co")
    name = f"consent-{secrets.token_hex(3)}.png"
    provider.files[name] = (tiny_png(), "image/png")
    with_logo = _create(connector_client, tenant, name="Study Buddy", logo_url=f"{provider.url}/files/{name}")
    without = _create(connector_client, tenant, name="Quiet Helper", logo_url=f"{provider.url}/files/missing.png")
    browser = _signed_in_browser(connector_client, settings)

    page = browser.get(f"/consent?agent_id={with_logo['id']}&categories=preference")
    assert page.status_code == 200, page.text
    assert _img_sources(page.text) == [f"/agents/{with_logo['id']}/logo"]
    for source in re.findall(r'\ssrc="([^"]*)"', page.text) + re.findall(r'<link[^>]*\shref="([^"]*)"', page.text):
        assert source.startswith("/") and not source.startswith("//"), source
    policy = page.headers["content-security-policy"]
    img_src = next(part.strip() for part in policy.split(";") if part.strip().startswith("img-src"))
    assert img_src == "img-src 'self' data:" and "https:" not in img_src

    initials = browser.get(f"/consent?agent_id={without['id']}")
    assert _img_sources(initials.text) == []
    assert re.search(r'<span class="logo initials[^"]*" aria-hidden="true">QH</span>', initials.text)
