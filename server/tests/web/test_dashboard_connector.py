"""The dashboard's OAuth connector page: an owner registers the organisation in the directory,
edits it without retyping the secret, and takes it out; a viewer sees no such page and a forged
post changes nothing. The server here may call the loopback provider (tests/fixtures/connectors.py)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from memoryos_server.services.runtime import Runtime
from tests.fixtures.connectors import connector_app
from tests.fixtures.dashboard import dashboard_browser, post_form
from tests.fixtures.factories import create_tenant
from tests.fixtures.oauth_provider import OAuthProvider
from tests.fixtures.pages import text_of

PAGE = "/dashboard/connector"


def _form(provider: OAuthProvider, client_id: str, **changes: str) -> dict[str, str]:
    return {
        "display_name": "Globex Support",
        "category": "saas",
        "website_url": "https://globex.example",
        "oauth_client_id": client_id,
        "oauth_authorization_url": provider.authorize_url,
        "oauth_token_url": provider.token_url,
        "oauth_userinfo_url": provider.userinfo_url,
        "oauth_scopes": "openid profile",
        "token_endpoint_auth_method": "client_secret_post",
        "is_public": "on",
        "link_token_enabled": "on",
        **changes,
    }


def test_an_owner_registers_edits_and_removes_the_connector(
    runtime: Runtime, connector_client: TestClient, provider: OAuthProvider
) -> None:
    app = connector_app(runtime)
    tenant = create_tenant(connector_client, "Globex")
    client = provider.add_client("http://testserver/oauth/callback")
    browser = dashboard_browser(app, tenant.owner_email)

    empty = browser.get(PAGE)
    assert empty.status_code == 200 and "not in the directory yet" in text_of(empty.text)
    assert "http://testserver/oauth/callback" in empty.text  # the redirect URI to give the provider

    missing_secret = post_form(browser, PAGE, PAGE, _form(provider, client.client_id))
    assert missing_secret.status_code == 400  # type: ignore[attr-defined]
    assert "oauth_client_secret is required" in text_of(missing_secret.text).lower()  # type: ignore[attr-defined]
    assert connector_client.get("/v1/tenant/directory", headers=tenant.key_headers()).status_code == 404

    secret = f"  {client.client_secret}\t"  # kept exactly as typed
    saved = post_form(browser, PAGE, PAGE, _form(provider, client.client_id, oauth_client_secret=secret))
    assert saved.status_code == 303, saved.text  # type: ignore[attr-defined]
    page = browser.get(PAGE)
    assert "Your organisation is in the directory." in text_of(page.text)
    assert "Globex Support" in page.text and client.client_secret not in page.text
    entry = connector_client.get("/v1/tenant/directory", headers=tenant.key_headers()).json()["data"]
    assert entry["oauth_scopes"] == ["openid", "profile"] and entry["has_client_secret"]
    listed = connector_client.get("/v1/directory", params={"q": "Globex Support"}).json()["data"]
    assert [item["id"] for item in listed] == [entry["id"]]
    with runtime.db.session(write=False) as session:
        assert runtime_services(connector_client).directory.connector(session, entry["id"]).client_secret == secret

    # Edited without the secret: the stored one stays.
    edited = post_form(browser, PAGE, PAGE, _form(provider, client.client_id, display_name="Globex Help", is_public=""))
    assert edited.status_code == 303  # type: ignore[attr-defined]
    assert connector_client.get("/v1/directory", params={"q": "Globex"}).json()["data"] == []  # unlisted now
    with runtime.db.session(write=False) as session:
        config = runtime_services(connector_client).directory.connector(session, entry["id"])
    assert (config.display_name, config.client_secret) == ("Globex Help", secret)

    removed = post_form(browser, PAGE, f"{PAGE}/remove", {})
    assert removed.status_code == 303  # type: ignore[attr-defined]
    assert "not in the directory yet" in text_of(browser.get(PAGE).text)
    assert connector_client.get("/v1/tenant/directory", headers=tenant.key_headers()).status_code == 404


def test_a_viewer_has_no_connector_page_and_a_forged_post_changes_nothing(
    runtime: Runtime, connector_client: TestClient, provider: OAuthProvider
) -> None:
    app = connector_app(runtime)
    tenant = create_tenant(connector_client, "Initech")
    viewer = tenant.add_member("viewer")
    client = provider.add_client("http://testserver/oauth/callback")
    browser = dashboard_browser(app, viewer.email)
    assert PAGE not in browser.get("/dashboard").text
    assert browser.get(PAGE).status_code == 403
    forged = post_form(browser, "/dashboard", PAGE, _form(provider, client.client_id, oauth_client_secret="s3cret"))
    assert forged.status_code == 403  # type: ignore[attr-defined]
    assert connector_client.get("/v1/tenant/directory", headers=tenant.key_headers()).status_code == 404


def runtime_services(http: TestClient):  # type: ignore[no-untyped-def]
    return http.app.state.services  # type: ignore[attr-defined]
