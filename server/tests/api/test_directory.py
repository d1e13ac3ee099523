"""The organisation directory (SPEC §5, seed 001 "Step 2C"): registering a connector, what is
kept of it and who sees what; the URLs the server will call, and where it refuses to go."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from memoryos_server.services.runtime import Runtime
from memoryos_server.storage.models import DirectoryEntry
from tests.fixtures.connectors import Connector, connector_app, seed_body
from tests.fixtures.factories import TenantHandle, create_tenant
from tests.fixtures.oauth_provider import OAuthProvider, tiny_png
from tests.fixtures.passport import AgentHandle, create_agent, sign_in

REGISTER = "/v1/tenant/directory/register"


def _seed_001(**changes: object) -> dict[str, object]:
    """Seed 001's body (plus link_token_enabled), as a company copies it. The logo's host is
    one the test's DNS puts at a link-local address: the server must refuse to fetch it (and so
    these tests never send a packet off this machine)."""
    body: dict[str, object] = {
        "display_name": "Acme Support",
        "category": "saas",
        "website_url": "https://acme.com",
        "logo_url": "https://static.acme.com/logo.png",
        "oauth_client_id": "memoryos-oauth-client-id",
        "oauth_client_secret": "memoryos-oauth-client-secret",
        "oauth_authorization_url": "https://acme.com/oauth/authorize",
        "oauth_token_url": "https://acme.com/oauth/token",
        "oauth_userinfo_url": "https://acme.com/oauth/userinfo",
        "oauth_scopes": ["openid", "profile"],
        "is_public": True,
        "link_token_enabled": True,
    }
    body.update(changes)
    return body


class FakeDns:
    """DNS, played by the test: each name resolves to the addresses given (outside us, so faked)."""

    def __init__(self, names: dict[str, Sequence[str]]) -> None:
        self.names = dict(names)
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.names:
            raise OSError(f"no such name: {host}")
        return list(self.names[host])


# A public address for names the server only looks up in these tests (the token and userinfo
# hosts are checked at registration, not called). Nothing here ever connects to it.
PUBLIC = "93.184.216.34"


def _offline(runtime: Runtime, **settings: object) -> tuple[TestClient, FakeDns]:
    dns = FakeDns({})
    app = connector_app(runtime, **{"allow_insecure_oauth": False, **settings})
    app.state.services.outbound.resolver = dns
    return TestClient(app, raise_server_exceptions=False), dns


@pytest.fixture(scope="module")
def _offline_server(runtime: Runtime, client: TestClient) -> tuple[TestClient, FakeDns]:
    return _offline(runtime)


@pytest.fixture
def offline_client(_offline_server: tuple[TestClient, FakeDns], runtime: Runtime) -> Callable[..., tuple[TestClient, FakeDns]]:
    """A server whose DNS the test plays, with https URLs only (the production default), or
    with the settings given."""

    def make(**settings: object) -> tuple[TestClient, FakeDns]:
        http, dns = _offline(runtime, **settings) if settings else _offline_server
        dns.names = {"acme.com": [PUBLIC], "static.acme.com": ["169.254.10.10"], "localhost": ["127.0.0.1"]}
        dns.asked.clear()
        return http, dns

    return make


def test_seed_001_registers_and_registering_again_replaces(offline_client) -> None:  # type: ignore[no-untyped-def]
    http, dns = offline_client()
    tenant = create_tenant(http, "Acme")
    first = http.post(REGISTER, json=_seed_001(), headers=tenant.key_headers())
    assert first.status_code == 200, first.text
    data = first.json()["data"]
    assert data["directory_id"].startswith("org_") and data["status"] == "active" and data["created"] is True
    # The logo's host is at a link-local address: not fetched, and registered anyway (initials).
    assert data["logo_stored"] is False and "does not call" in data["logo_problem"]
    assert "acme.com" in dns.asked  # the token and userinfo hosts were looked up and found public

    again = http.post(REGISTER, json=_seed_001(display_name="Acme Help", oauth_client_secret=None), headers=tenant.key_headers())
    assert again.status_code == 200, again.text
    assert again.json()["data"]["directory_id"] == data["directory_id"] and again.json()["data"]["created"] is False

    own = http.get("/v1/tenant/directory", headers=tenant.key_headers())
    assert own.status_code == 200, own.text
    entry = own.json()["data"]
    assert entry["display_name"] == "Acme Help" and entry["has_client_secret"] is True
    assert entry["oauth_scopes"] == ["openid", "profile"] and entry["token_endpoint_auth_method"] == "client_secret_post"
    assert entry["redirect_uri"] == "http://testserver/oauth/callback"
    assert "memoryos-oauth-client-secret" not in own.text and "memoryos-oauth-client-secret" not in again.text


def test_the_client_secret_is_kept_encrypted_and_never_shown_or_logged(
    offline_client, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    http, _ = offline_client()
    tenant = create_tenant(http, "Acme")
    secret = "s3cret-" + "x" * 24
    with caplog.at_level(logging.DEBUG):
        registered = http.post(REGISTER, json=_seed_001(oauth_client_secret=secret), headers=tenant.key_headers())
        answers = [
            registered,
            http.get("/v1/tenant/directory", headers=tenant.key_headers()),
            http.get("/v1/directory"),
            http.post(REGISTER, json=_seed_001(oauth_client_secret=secret, oauth_token_url="https://10.0.0.1/token"), headers=tenant.key_headers()),
        ]
    for answer in answers:
        assert secret not in answer.text
    assert secret not in caplog.text
    with runtime.db.session(write=False) as session:
        row = session.execute(select(DirectoryEntry).where(DirectoryEntry.id == registered.json()["data"]["directory_id"])).scalar_one()
        assert row.oauth_client_secret_ct is not None and secret.encode() not in row.oauth_client_secret_ct
    # Read back through the service, it is the secret that was registered.
    with runtime.db.session(write=False) as session:
        connector = http.app.state.services.directory.connector(session, row.id)  # type: ignore[attr-defined]
        assert connector.client_secret == secret


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"oauth_token_url": "http://acme.com/oauth/token"}, "oauth_token_url"),
        ({"oauth_userinfo_url": "http://127.0.0.1:9000/userinfo"}, "oauth_userinfo_url"),
        ({"oauth_authorization_url": "ftp://acme.com/authorize"}, "oauth_authorization_url"),
        ({"oauth_authorization_url": "https://acme.com/authorize#top"}, "oauth_authorization_url"),
        ({"oauth_token_url": "https://user:pw@acme.com/token"}, "oauth_token_url"),
        ({"website_url": "javascript:alert(1)"}, "website_url"),
        ({"oauth_scopes": ["openid profile"]}, "oauth_scopes"),
        ({"oauth_scopes": ['"quoted"']}, "oauth_scopes"),
        ({"display_name": "   "}, "display_name"),
        ({"oauth_client_id": "line\nbreak"}, "oauth_client_id"),
        ({"token_endpoint_auth_method": "private_key_jwt"}, "token_endpoint_auth_method"),
        ({"oauth_token_url": None}, "oauth_token_url"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_registration_is_validated(offline_client, changes: dict[str, object], field: str) -> None:  # type: ignore[no-untyped-def]
    http, _ = offline_client()
    tenant = create_tenant(http, "Acme")
    answer = http.post(REGISTER, json=_seed_001(**changes), headers=tenant.key_headers())
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["code"] == "REQ_422"
    assert any(field in detail["loc"] for detail in body["details"]), body
    assert http.get("/v1/tenant/directory", headers=tenant.key_headers()).status_code == 404  # nothing was stored


def test_the_first_registration_needs_the_secret(offline_client) -> None:  # type: ignore[no-untyped-def]
    http, _ = offline_client()
    tenant = create_tenant(http, "Acme")
    answer = http.post(REGISTER, json=_seed_001(oauth_client_secret=None), headers=tenant.key_headers())
    assert answer.status_code == 422 and answer.json()["details"][0]["loc"] == ["body", "oauth_client_secret"]


@pytest.mark.parametrize(
    ("host", "addresses"),
    [
        ("loopback.example", ["127.0.0.1"]),
        ("intranet.example", ["10.20.30.40"]),
        ("metadata.example", ["169.254.169.254"]),
        ("home.example", ["192.168.1.10"]),
        ("mixed.example", [PUBLIC, "10.0.0.7"]),  # one private address is enough to refuse
        ("mapped.example", ["::ffff:127.0.0.1"]),
        ("v6-local.example", ["::1"]),
        ("v6-ula.example", ["fd12:3456::1"]),
        ("127.0.0.1", []),  # an address written as one: no lookup, same rule
        ("[::1]", []),
        ("169.254.169.254", []),
        ("unknown.example", None),  # does not resolve at all
    ],
)
def test_urls_the_server_calls_must_resolve_to_public_addresses(offline_client, host: str, addresses: list[str] | None) -> None:  # type: ignore[no-untyped-def]
    http, dns = offline_client()
    if addresses:
        dns.names[host] = addresses
    tenant = create_tenant(http, "Acme")
    for field, path in (("oauth_token_url", "/token"), ("oauth_userinfo_url", "/userinfo")):
        answer = http.post(REGISTER, json=_seed_001(**{field: f"https://{host}{path}"}), headers=tenant.key_headers())
        assert answer.status_code == 422, (field, answer.text)
        assert answer.json()["details"][0]["loc"] == ["body", field]
    # The authorization URL is only where the person's browser goes: the server never calls it.
    browser_only = http.post(REGISTER, json=_seed_001(oauth_authorization_url=f"https://{host}/authorize"), headers=tenant.key_headers())
    assert browser_only.status_code == 200, browser_only.text


def test_settings_open_loopback_and_private_networks_but_never_link_local(offline_client) -> None:  # type: ignore[no-untyped-def]
    http, dns = offline_client(allow_insecure_oauth=True, outbound_allow_private_networks=True)
    dns.names.update({"loopback.example": ["127.0.0.1"], "intranet.example": ["10.20.30.40"], "metadata.example": ["169.254.169.254"]})
    tenant = create_tenant(http, "Acme")
    for host in ("loopback.example", "intranet.example"):
        assert http.post(REGISTER, json=_seed_001(oauth_token_url=f"https://{host}/t"), headers=tenant.key_headers()).status_code == 200
    assert http.post(REGISTER, json=_seed_001(oauth_token_url="http://localhost:9/t"), headers=tenant.key_headers()).status_code == 200
    # http is for this machine only, even with the setting.
    assert http.post(REGISTER, json=_seed_001(oauth_token_url="http://intranet.example/t"), headers=tenant.key_headers()).status_code == 422
    assert http.post(REGISTER, json=_seed_001(oauth_token_url="https://metadata.example/t"), headers=tenant.key_headers()).status_code == 422


def test_without_the_setting_loopback_http_is_refused_and_says_why(offline_client) -> None:  # type: ignore[no-untyped-def]
    http, _ = offline_client()
    tenant = create_tenant(http, "Acme")
    answer = http.post(REGISTER, json=_seed_001(oauth_token_url="http://localhost:8000/token"), headers=tenant.key_headers())
    assert answer.status_code == 422 and "MEMORYOS_ALLOW_INSECURE_OAUTH" in answer.json()["details"][0]["msg"]


def test_the_public_directory_lists_listed_entries_and_no_secret(connector_client: TestClient, new_connector, provider: OAuthProvider) -> None:  # type: ignore[no-untyped-def]
    listed: Connector = new_connector(name="Zephyr Banking", category="bank")
    unlisted: Connector = new_connector(name="Hidden Tools", is_public=False)
    answer = connector_client.get("/v1/directory")  # no credentials at all
    assert answer.status_code == 200, answer.text
    entries = {item["id"]: item for item in answer.json()["data"]}
    assert listed.directory_id in entries and unlisted.directory_id not in entries
    entry = entries[listed.directory_id]
    assert set(entry) == {"id", "display_name", "category", "website_url", "logo_url", "initials", "link_token_enabled"}
    assert entry["display_name"] == "Zephyr Banking" and entry["category"] == "bank" and entry["initials"] == "ZB"
    assert listed.client.client_secret not in answer.text and listed.client.client_id not in answer.text
    assert "oauth" not in answer.text.lower().replace("/oauth/", "")

    found = connector_client.get("/v1/directory", params={"q": "zephyr"}).json()["data"]
    assert [item["id"] for item in found] == [listed.directory_id]
    by_category = connector_client.get("/v1/directory", params={"q": "BANK"}).json()["data"]
    assert listed.directory_id in [item["id"] for item in by_category]
    assert connector_client.get("/v1/directory", params={"q": "100%_no_such"}).json()["data"] == []


def test_the_passport_users_list_needs_a_session_and_marks_nothing_connected_yet(
    connector_client: TestClient, new_connector, settings
) -> None:  # type: ignore[no-untyped-def]
    connector: Connector = new_connector(name="Acme Support")
    assert connector_client.get("/v1/uui/organisations").json()["code"] == "UUI_401"
    passport = sign_in(connector_client.app, connector_client, settings)  # type: ignore[arg-type]
    answer = connector_client.get("/v1/uui/organisations", headers=passport.headers())
    assert answer.status_code == 200, answer.text
    mine = next(item for item in answer.json()["data"] if item["id"] == connector.directory_id)
    assert mine["connected"] is False and mine["display_name"] == "Acme Support"


def test_the_logo_is_fetched_once_and_served_from_our_origin(connector_client: TestClient, new_connector, provider: OAuthProvider) -> None:  # type: ignore[no-untyped-def]
    connector: Connector = new_connector(name="Acme Support")
    stored = connector.register(logo_url=f"{provider.url}/files/logo.png")
    assert stored["logo_stored"] is True and stored["logo_problem"] is None
    listed = next(item for item in connector_client.get("/v1/directory").json()["data"] if item["id"] == connector.directory_id)
    assert listed["logo_url"] == f"http://testserver/directory/{connector.directory_id}/logo"
    provider.files["logo.png"] = (b"changed at the source", "image/png")  # we never go back for it
    image = connector_client.get(f"/directory/{connector.directory_id}/logo")
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(image.content)) as served:  # the same pixels, written again
        assert [color for _count, color in served.convert("RGB").getcolors()] == [(225, 29, 72)]
    assert image.headers["content-type"] == "image/png" and image.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in image.headers["content-security-policy"]

    provider.files["page.html"] = (b"<html><script>alert(1)</script></html>", "image/png")  # lies about its type
    refused = connector.register(logo_url=f"{provider.url}/files/page.html")
    assert refused["logo_stored"] is False and "PNG, JPEG or WebP" in refused["logo_problem"]
    assert connector_client.get(f"/directory/{connector.directory_id}/logo").status_code == 404
    provider.files["big.png"] = (tiny_png() + b"\0" * 300_000, "image/png")
    too_big = connector.register(logo_url=f"{provider.url}/files/big.png")
    assert too_big["logo_stored"] is False and "larger" in too_big["logo_problem"]
    provider.files["logo.png"] = (tiny_png(), "image/png")


def test_who_may_register_and_one_organisation_cannot_touch_another(
    connector_client: TestClient, new_connector, provider: OAuthProvider
) -> None:  # type: ignore[no-untyped-def]
    acme: Connector = new_connector(name="Acme Support")
    other = create_tenant(connector_client, "Other")
    body = seed_body(provider, acme.client, display_name="Other Co")
    viewer = connector_client.post(REGISTER, json=body, headers=acme.tenant.add_member("viewer").headers())
    assert viewer.status_code == 403 and viewer.json()["code"] == "AUTH_003"
    assert connector_client.post(REGISTER, json=body).json()["code"] == "AUTH_001"
    developer = connector_client.post(REGISTER, json=seed_body(provider, acme.client), headers=acme.tenant.add_member("developer").headers())
    assert developer.status_code == 200 and developer.json()["data"]["directory_id"] == acme.directory_id

    # Another organisation has no entry of its own yet: it sees nothing of Acme's, and removes nothing.
    assert connector_client.get("/v1/tenant/directory", headers=other.key_headers()).json()["code"] == "ORG_404"
    assert connector_client.delete("/v1/tenant/directory", headers=other.key_headers()).json()["code"] == "ORG_404"
    # Registering makes its own entry, with its own id; Acme's is untouched.
    own = connector_client.post(REGISTER, json=body, headers=other.key_headers()).json()["data"]
    assert own["directory_id"] != acme.directory_id and own["created"] is True
    acme_entry = connector_client.get("/v1/tenant/directory", headers=acme.tenant.key_headers()).json()["data"]
    assert acme_entry["display_name"] == "Acme Support" and acme_entry["id"] == acme.directory_id


def test_removing_the_entry_takes_it_out_and_registering_brings_it_back(connector_client: TestClient, new_connector, settings) -> None:  # type: ignore[no-untyped-def]
    connector: Connector = new_connector(name="Acme Support")
    removed = connector_client.delete("/v1/tenant/directory", headers=connector.tenant.key_headers())
    assert removed.status_code == 200 and removed.json()["data"]["status"] == "removed"
    assert connector.directory_id not in [item["id"] for item in connector_client.get("/v1/directory").json()["data"]]
    passport = sign_in(connector_client.app, connector_client, settings)  # type: ignore[arg-type]
    start = connector_client.post("/v1/uui/oauth/initiate", json={"org_directory_id": connector.directory_id}, headers=passport.headers())
    assert start.status_code == 404 and start.json()["code"] == "ORG_404"
    back = connector.register()
    assert back["directory_id"] == connector.directory_id and back["status"] == "active"


def test_turning_secure_links_off_refuses_link_tokens(connector_client: TestClient, new_connector) -> None:  # type: ignore[no-untyped-def]
    connector: Connector = new_connector(name="Acme Support")
    agent: AgentHandle = create_agent(connector.tenant)
    link = lambda: connector_client.post(  # noqa: E731
        "/v1/tenant/memory-passport/link-token",
        json={"agent_id": agent.id, "external_user_id": "customer-1"},
        headers=connector.tenant.key_headers(),
    )
    assert link().status_code == 200
    connector.register(link_token_enabled=False)
    refused = link()
    assert refused.status_code == 409 and refused.json()["error"] == "link_tokens_disabled"
    listed = next(item for item in connector_client.get("/v1/directory").json()["data"] if item["id"] == connector.directory_id)
    assert listed["link_token_enabled"] is False
    connector.register(link_token_enabled=True)
    assert link().status_code == 200


def test_a_tenant_handle_is_what_it_seems(tenant: TenantHandle) -> None:
    """The session's own server keeps https-only connectors: a loopback provider is refused there."""
    answer = tenant.client.post(
        REGISTER,
        json=_seed_001(oauth_token_url="http://127.0.0.1:9/token", oauth_userinfo_url="http://127.0.0.1:9/userinfo"),
        headers=tenant.key_headers(),
    )
    assert answer.status_code == 422
