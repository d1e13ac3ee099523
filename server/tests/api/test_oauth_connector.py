"""The OAuth connector end to end over HTTP, against a real provider on loopback (Authlib):
the authorization request, the callback, what is kept, user resolve, and every way it can fail
without connecting anything (SPEC §5, §6, §8; seed 001 "Step 2C")."""

from __future__ import annotations

import base64
import html
import logging
import secrets
import time
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from memoryos_server.services.passport.oauth import code_challenge
from memoryos_server.services.runtime import Runtime
from memoryos_server.settings import Settings
from memoryos_server.storage.models import AuditEvent, DirectoryEntry, OAuthState, OrgConnection
from memoryos_server.storage.types import utcnow
from tests.fixtures.app import free_port
from tests.fixtures.connectors import CONNECTOR_TIMEOUT, Connector, connector_app
from tests.fixtures.oauth_provider import Account, OAuthProvider, sign_in_and_consent
from tests.fixtures.passport import PassportHandle, create_agent, exchange, link_token, sign_in

SEED_WORDS = (
    "Account connected",
    "Your Acme Support account is now connected to your Memory Passport.",
    "You can disconnect this anytime from Connections.",
)


def _cookie(passport: PassportHandle) -> dict[str, str]:
    return {"Cookie": f"memoryos_uui_session={passport.session_token}"}


def _start(http: TestClient, passport: PassportHandle, connector: Connector) -> str:
    answer = http.post("/v1/uui/oauth/initiate", json={"org_directory_id": connector.directory_id}, headers=passport.headers())
    assert answer.status_code == 200, answer.text
    return str(answer.json()["data"]["authorization_url"])


def _back(http: TestClient, callback_url: str, passport: PassportHandle | None) -> httpx.Response:
    """The browser arriving at our callback from the provider, with this passport's cookie."""
    parts = urlsplit(callback_url)
    assert f"{parts.scheme}://{parts.netloc}" == "http://testserver" and parts.path == "/oauth/callback", callback_url
    return http.get(f"{parts.path}?{parts.query}", headers=_cookie(passport) if passport else {}, follow_redirects=False)


def _connections(http: TestClient, passport: PassportHandle) -> list[dict[str, object]]:
    return list(http.get("/v1/uui/me/connections", headers=passport.headers()).json()["data"])


@pytest.fixture
def person(connector_client: TestClient, settings: Settings) -> Callable[[], PassportHandle]:
    return lambda: sign_in(connector_client.app, connector_client, settings)  # type: ignore[arg-type]


def _flow(http: TestClient, passport: PassportHandle, connector: Connector, account: Account, *, allow: bool = True) -> httpx.Response:
    url = _start(http, passport, connector)
    return _back(http, sign_in_and_consent(connector.provider, url, account, allow=allow), passport)


# --- the request ------------------------------------------------------------------------------------


def test_the_authorization_request(connector_client: TestClient, new_connector, person, provider: OAuthProvider) -> None:  # type: ignore[no-untyped-def]
    connector: Connector = new_connector(name="Acme Support")
    url = _start(connector_client, person(), connector)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == provider.authorize_url
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    assert query["response_type"] == "code" and query["client_id"] == connector.client.client_id
    assert query["redirect_uri"] == "http://testserver/oauth/callback"
    assert query["scope"] == "openid profile"
    assert len(query["state"]) >= 43 and query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert len(query["nonce"]) >= 32  # openid was asked

    # Without openid there is no nonce; a query the organisation put in its URL is kept.
    connector.register(oauth_scopes=["profile"], oauth_authorization_url=f"{provider.authorize_url}?tenant=acme&state=theirs")
    query = parse_qs(urlsplit(_start(connector_client, person(), connector)).query)
    assert "nonce" not in query and query["tenant"] == ["acme"] and query["scope"] == ["profile"]
    assert query["state"] != ["theirs"] and len(query["state"]) == 1


def test_pkce_is_s256_of_the_verifier_sent_to_the_token_endpoint(connector_client: TestClient, new_connector, person, provider: OAuthProvider) -> None:  # type: ignore[no-untyped-def]
    connector: Connector = new_connector(name="Acme Support")
    passport = person()
    url = _start(connector_client, passport, connector)
    challenge = parse_qs(urlsplit(url).query)["code_challenge"][0]
    answer = _back(connector_client, sign_in_and_consent(provider, url, connector.account()), passport)
    assert answer.status_code == 303, answer.text
    form = provider.token_requests[-1]["form"]
    assert code_challenge(form["code_verifier"]) == challenge
    assert form["grant_type"] == "authorization_code" and form["redirect_uri"] == "http://testserver/oauth/callback"


# --- the whole way ----------------------------------------------------------------------------------


def test_connecting_an_account_end_to_end_and_resolving_the_person_through_it(
    connector_client: TestClient, new_connector, person, provider: OAuthProvider, runtime: Runtime
) -> None:  # type: ignore[no-untyped-def]
    connector: Connector = new_connector(name="Acme Support")
    agent = create_agent(connector.tenant)
    account = connector.account(sub="user_8a72")
    passport = person()
    resolve = lambda: connector_client.post(  # noqa: E731
        "/v1/universal/users/resolve", json={"external_user_id": "user_8a72"}, headers=agent.headers()
    ).json()["data"]
    assert resolve() == {"uui_token": None, "permission_error": "not_connected"}

    answer = _flow(connector_client, passport, connector, account)
    assert answer.status_code == 303, answer.text
    assert answer.headers["referrer-policy"] == "no-referrer"
    done = connector_client.get(answer.headers["location"], headers=_cookie(passport))
    assert done.status_code == 200
    for words in SEED_WORDS:
        assert words in html.unescape(done.text)

    # What the token endpoint was sent: client_secret_post, as seed 001 shows.
    token_request = provider.token_requests[-1]
    assert token_request["form"]["client_id"] == connector.client.client_id
    assert token_request["form"]["client_secret"] == connector.client.client_secret
    assert token_request["authorization"] is None
    assert provider.userinfo_requests[-1]["authorization"].startswith("Bearer ")

    connections = _connections(connector_client, passport)
    assert len(connections) == 1
    assert connections[0]["method"] == "oauth" and connections[0]["organisation_name"] == "Acme Support"
    assert connections[0]["directory_id"] == connector.directory_id
    listed = connector_client.get("/v1/uui/organisations", headers=passport.headers()).json()["data"]
    assert next(item for item in listed if item["id"] == connector.directory_id)["connected"] is True

    # Kept: a keyed hash of (organisation, sub). Not the sub, not a token.
    with runtime.db.session(write=False) as session:
        row = session.execute(select(OrgConnection).where(OrgConnection.id == connections[0]["id"])).scalar_one()
        assert "user_8a72" not in row.account_hash and len(row.account_hash) == 64
        events = session.execute(select(AuditEvent).where(AuditEvent.action == "connection.created")).scalars().all()
        issued = list(provider.tokens)
        for event in events:
            assert "user_8a72" not in str(event.detail) and not any(token in str(event.detail) for token in issued)

    # A connection grants no memory access (SPEC §8): the agent learns only that there is no grant.
    assert resolve() == {"uui_token": None, "permission_error": "no_grant_for_user"}
    granted = passport.grant(agent, ["preference"])
    uui = exchange(connector_client, agent, granted["code"])["uui_token"]
    assert resolve() == {"uui_token": uui, "permission_error": None}

    activity = connector_client.get("/v1/uui/me/activity", headers=passport.headers()).json()["data"]
    assert any(line["summary"] == "You connected your Acme Support account" for line in activity), activity

    # Disconnecting works like any connection's, and resolve no longer finds the person.
    gone = connector_client.delete(f"/v1/uui/me/connections/{connections[0]['id']}", headers=passport.headers())
    assert gone.status_code == 200
    assert resolve() == {"uui_token": None, "permission_error": "not_connected"}


def test_client_secret_basic_when_registered_so(connector_client: TestClient, new_connector, person, provider: OAuthProvider) -> None:  # type: ignore[no-untyped-def]
    connector: Connector = new_connector(name="Acme Support", auth_method="client_secret_basic")
    passport = person()
    answer = _flow(connector_client, passport, connector, connector.account())
    assert answer.status_code == 303, answer.text
    sent = provider.token_requests[-1]
    assert "client_secret" not in sent["form"] and "client_id" not in sent["form"]
    scheme, _, credentials = sent["authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(credentials).decode() == f"{connector.client.client_id}:{connector.client.client_secret}"
    assert len(_connections(connector_client, passport)) == 1


def test_an_account_connected_by_a_secure_link_is_refreshed_not_doubled(
    connector_client: TestClient, new_connector, person, provider: OAuthProvider
) -> None:  # type: ignore[no-untyped-def]
    connector: Connector = new_connector(name="Acme Support")
    agent = create_agent(connector.tenant)
    account = connector.account(sub=f"acct-{secrets.token_hex(4)}")
    passport = person()
    link = link_token(agent, account.sub)
    assert connector_client.post(
        "/v1/uui/me/grants", json={"agent_id": agent.id, "categories_allowed": ["goal"], "link_token": link}, headers=passport.headers()
    ).status_code == 200
    before = _connections(connector_client, passport)
    assert [item["method"] for item in before] == ["secure_link"]

    assert _flow(connector_client, passport, connector, account).status_code == 303
    after = _connections(connector_client, passport)
    assert [(item["id"], item["method"]) for item in after] == [(before[0]["id"], "oauth")]
    activity = connector_client.get("/v1/uui/me/activity", headers=passport.headers()).json()["data"]
    assert any(line["summary"] == "You reconnected your Acme Support account" for line in activity), activity


def test_another_organisations_agent_cannot_resolve_the_account(connector_client: TestClient, new_connector, person) -> None:  # type: ignore[no-untyped-def]
    acme: Connector = new_connector(name="Acme Support")
    other: Connector = new_connector(name="Other Co")
    account = acme.account(sub=f"shared-{secrets.token_hex(3)}")
    passport = person()
    assert _flow(connector_client, passport, acme, account).status_code == 303
    stranger = create_agent(other.tenant)
    passport.grant(stranger, ["preference"])
    found = connector_client.post("/v1/universal/users/resolve", json={"external_user_id": account.sub}, headers=stranger.headers())
    assert found.json()["data"] == {"uui_token": None, "permission_error": "not_connected"}


# --- failures: a clear page, nothing connected -------------------------------------------------------


def _refused(answer: httpx.Response, status: int, *words: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    page = html.unescape(answer.text)
    for text in words:
        assert text in page, (text, page)
    assert "Nothing was connected" in page or "was not connected" in page


def test_a_forged_state_connects_nothing(connector_client: TestClient, new_connector, person, provider: OAuthProvider) -> None:  # type: ignore[no-untyped-def]
    connector: Connector = new_connector(name="Acme Support")
    passport = person()
    url = _start(connector_client, passport, connector)
    back = sign_in_and_consent(provider, url, connector.account())
    code = parse_qs(urlsplit(back).query)["code"][0]
    forged = f"http://testserver/oauth/callback?code={code}&state={secrets.token_urlsafe(32)}"
    _refused(_back(connector_client, forged, passport), 400, "This sign-in can't be finished here")
    _refused(_back(connector_client, "http://testserver/oauth/callback?code=x", passport), 400, "can't be finished")
    assert provider.token_requests == []  # the code was never even tried
    assert _connections(connector_client, passport) == []


def test_a_replayed_state_connects_nothing_more(connector_client: TestClient, new_connector, person, provider: OAuthProvider) -> None:  # type: ignore[no-untyped-def]
    connector: Connector = new_connector(name="Acme Support")
    passport = person()
    url = _start(connector_client, passport, connector)
    back = sign_in_and_consent(provider, url, connector.account())
    assert _back(connector_client, back, passport).status_code == 303
    _refused(_back(connector_client, back, passport), 400, "already")
    assert len(provider.token_requests) == 1 and len(_connections(connector_client, passport)) == 1


def test_an_expired_state_connects_nothing(
    connector_client: TestClient, new_connector, person, provider: OAuthProvider, runtime: Runtime
) -> None:  # type: ignore[no-untyped-def]
    connector: Connector = new_connector(name="Acme Support")
    passport = person()
    url = _start(connector_client, passport, connector)
    back = sign_in_and_consent(provider, url, connector.account())
    # No clock to move: the state's end moves into the past instead (read against the clock).
    with runtime.db.session() as session:
        state = parse_qs(urlsplit(url).query)["state"][0]
        state_hash = runtime.hasher.hash(state, purpose="oauth_state")
        row = session.execute(select(OAuthState).where(OAuthState.state_hash == state_hash)).scalar_one()
        assert row.expires_at - row.created_at == timedelta(minutes=10)
        row.expires_at = utcnow() - timedelta(seconds=1)
    _refused(_back(connector_client, back, passport), 400, "longer than 10 minutes")
    assert provider.token_requests == [] and _connections(connector_client, passport) == []


def test_the_state_belongs_to_the_session_that_asked(connector_client: TestClient, new_connector, person, provider: OAuthProvider, settings) -> None:  # type: ignore[no-untyped-def]
    connector: Connector = new_connector(name="Acme Support")
    passport = person()
    url = _start(connector_client, passport, connector)
    back = sign_in_and_consent(provider, url, connector.account())
    someone_else = person()
    _refused(_back(connector_client, back, someone_else), 400, "not one MemoryOS made for you")
    same_person_elsewhere = sign_in(connector_client.app, connector_client, settings, passport.email)  # type: ignore[arg-type]
    _refused(_back(connector_client, back, same_person_elsewhere), 400, "can't be finished")
    _refused(_back(connector_client, back, None), 400, "not signed in")
    assert provider.token_requests == []
    assert _connections(connector_client, someone_else) == [] and _connections(connector_client, passport) == []
    # None of that used the state up: the browser that asked can still finish.
    assert _back(connector_client, back, passport).status_code == 303


def test_saying_no_at_the_provider_connects_nothing(connector_client: TestClient, new_connector, person, provider: OAuthProvider) -> None:  # type: ignore[no-untyped-def]
    connector: Connector = new_connector(name="Acme Support")
    passport = person()
    url = _start(connector_client, passport, connector)
    back = sign_in_and_consent(provider, url, connector.account(), allow=False)
    assert parse_qs(urlsplit(back).query)["error"] == ["access_denied"]
    _refused(_back(connector_client, back, passport), 400, "You chose not to connect your Acme Support account")
    # The state is used up by the answer, whatever it was.
    _refused(_back(connector_client, back, passport), 400, "already")
    assert provider.token_requests == [] and _connections(connector_client, passport) == []


@pytest.mark.parametrize(
    ("token_mode", "userinfo_mode", "words"),
    [
        ("slow", "normal", "did not answer in time"),
        ("garbage", "normal", "could not read"),
        ("huge", "normal", "far larger answer"),
        ("refuse", "normal", "did not accept the sign-in"),
        ("not_bearer", "normal", "could not read"),
        ("wrong_nonce", "normal", "did not match this sign-in"),
        ("normal", "no_sub", "did not say which account"),
        ("normal", "numeric_sub", "did not say which account"),
        ("normal", "huge", "far larger answer"),
        ("normal", "slow", "did not answer in time"),
        ("normal", "refuse", "did not accept the sign-in"),
        ("normal", "other_sub", "did not match this sign-in"),
    ],
)
def test_a_provider_that_misbehaves_connects_nothing(
    connector_client: TestClient, new_connector, person, provider: OAuthProvider, token_mode: str, userinfo_mode: str, words: str
) -> None:  # type: ignore[no-untyped-def]
    connector: Connector = new_connector(name="Acme Support")
    passport = person()
    url = _start(connector_client, passport, connector)
    back = sign_in_and_consent(provider, url, connector.account())
    provider.token_mode, provider.userinfo_mode = token_mode, userinfo_mode
    began = time.monotonic()
    _refused(_back(connector_client, back, passport), 502, "Acme Support", words, "We couldn't connect your account")
    assert time.monotonic() - began < CONNECTOR_TIMEOUT + 2  # never waits on a slow server past the limit
    assert _connections(connector_client, passport) == []


def test_a_token_endpoint_that_is_down_connects_nothing(connector_client: TestClient, new_connector, person, provider: OAuthProvider) -> None:  # type: ignore[no-untyped-def]
    closed = f"http://127.0.0.1:{free_port()}/oauth/token"  # nothing listens there
    connector: Connector = new_connector(name="Acme Support", oauth_token_url=closed)
    passport = person()
    url = _start(connector_client, passport, connector)
    _refused(_back(connector_client, sign_in_and_consent(provider, url, connector.account()), passport), 502, "could not be reached")
    assert _connections(connector_client, passport) == []


def test_an_organisation_removed_meanwhile_connects_nothing(
    connector_client: TestClient, new_connector, person, provider: OAuthProvider, runtime: Runtime
) -> None:  # type: ignore[no-untyped-def]
    connector: Connector = new_connector(name="Acme Support")
    passport = person()
    # Removed while the person was at the provider's sign-in page.
    url = _start(connector_client, passport, connector)
    back = sign_in_and_consent(provider, url, connector.account())
    assert connector_client.delete("/v1/tenant/directory", headers=connector.tenant.key_headers()).status_code == 200
    _refused(_back(connector_client, back, passport), 404, "This organisation isn't in the directory")
    assert provider.token_requests == []

    # Removed while MemoryOS was talking to the provider (between the token and userinfo calls).
    connector.register()

    def remove() -> None:
        with runtime.db.session() as session:
            session.execute(update(DirectoryEntry).where(DirectoryEntry.id == connector.directory_id).values(status="removed"))

    url = _start(connector_client, passport, connector)
    back = sign_in_and_consent(provider, url, connector.account())
    provider.before_userinfo = remove
    _refused(_back(connector_client, back, passport), 404, "This organisation isn't in the directory")
    assert len(provider.userinfo_requests) == 1 and _connections(connector_client, passport) == []


def test_a_name_that_turns_private_after_registration_is_refused_at_the_call(
    runtime: Runtime, connector_client: TestClient, provider: OAuthProvider, settings: Settings
) -> None:
    """DNS rebinding: the token host resolved to a public address when it was registered, and
    to a private one when the server is about to call it. The call is refused unsent."""
    app = connector_app(runtime)  # the same server, with the test playing DNS
    names = {"idp.example": ["93.184.216.34"]}
    asked: list[str] = []

    def dns(host: str, port: int) -> list[str]:
        asked.append(host)
        return names[host]

    app.state.services.outbound.resolver = dns
    http = TestClient(app, raise_server_exceptions=False)
    from tests.fixtures.connectors import register_connector

    connector = register_connector(http, provider, "http://testserver", oauth_token_url="https://idp.example/oauth/token", name="Acme Support")
    assert asked == ["idp.example"]  # looked up at registration, and public then
    passport = sign_in(app, http, settings)
    url = _start(http, passport, connector)
    back = sign_in_and_consent(provider, url, connector.account())
    names["idp.example"] = ["10.0.0.8"]
    _refused(_back(http, back, passport), 502, "is at an address MemoryOS does not call")
    assert asked == ["idp.example", "idp.example"] and provider.token_requests == []
    assert _connections(http, passport) == []


def test_no_secret_reaches_the_logs(
    connector_client: TestClient, new_connector, person, provider: OAuthProvider, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    """What this server logs while it starts and finishes flows, a failed one included: the
    provider's own logs (Authlib's, in this process) and the test client's are not ours."""
    connector: Connector = new_connector(name="Acme Support")
    account = connector.account(sub=f"private-sub-{secrets.token_hex(4)}")
    passport = person()
    ours: list[str] = []

    def server(call: Callable[[], object]) -> object:
        caplog.clear()
        result = call()
        ours.extend(
            record.getMessage()
            for record in caplog.records
            if not record.name.startswith(("authlib", "werkzeug", "httpx2"))
        )
        return result

    with caplog.at_level(logging.DEBUG):
        url = server(lambda: _start(connector_client, passport, connector))
        back = sign_in_and_consent(provider, str(url), account)
        assert server(lambda: _back(connector_client, back, passport)).status_code == 303  # type: ignore[attr-defined]
        provider.userinfo_mode = "no_sub"
        again = server(lambda: _start(connector_client, passport, connector))
        failed_back = sign_in_and_consent(provider, str(again), account)
        assert server(lambda: _back(connector_client, failed_back, passport)).status_code == 502  # type: ignore[attr-defined]
    text = "\n".join(ours)
    assert "userinfo failed (no_subject)" in text  # the failure is logged, by what went wrong
    assert "/oauth/callback?code&state" in text  # the access log names the parameters only
    query = parse_qs(urlsplit(back).query)
    secret_things = [connector.client.client_secret, account.sub, query["code"][0], query["state"][0], *provider.tokens]
    for secret in secret_things:
        assert secret not in text
