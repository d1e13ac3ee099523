"""The OAuth connector in a browser: the directory → the organisation's own sign-in page (a real
Authlib provider on loopback) → back → "Account connected" → Connections → disconnect; and each
way it can fail, which must show a clear page and connect nothing."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, Route, expect
from sqlalchemy import update

from memoryos.universal import UniversalMemory
from memoryos_server.services.runtime import Runtime
from memoryos_server.storage.models import DirectoryEntry, OAuthState
from memoryos_server.storage.types import utcnow
from tests.fixtures.app import LiveServer, free_port
from tests.fixtures.connectors import Connector, register_connector
from tests.fixtures.oauth_provider import Account, OAuthProvider
from tests.fixtures.passport import create_agent
from tests.web.browser import DESKTOP, PHONE, Person
from tests.web.test_browser_accessibility import _check

pytestmark = pytest.mark.browser


@pytest.fixture
def acme(
    connector_client: TestClient, provider: OAuthProvider, connector_server: LiveServer, runtime: Runtime
) -> Iterator[Connector]:
    """Acme Support, registered with its logo, against the provider; the browser's server calls back.
    The directory is public to every tenant of the shared test database, so the organisations
    other tests registered are taken out of it first: the person sees one Acme Support."""
    with runtime.db.session() as session:
        session.execute(update(DirectoryEntry).where(DirectoryEntry.status == "active").values(status="removed"))
    connector = register_connector(
        connector_client, provider, connector_server.url, name="Acme Support", logo_url=f"{provider.url}/files/logo.png"
    )
    yield connector
    connector_client.delete("/v1/tenant/directory", headers=connector.tenant.key_headers())


def _at_provider(page: Page, account: Account, *, allow: bool = True) -> None:
    """The person on the organisation's own pages: signs in, then answers its consent screen."""
    expect(page.get_by_role("heading", name="Sign in to Acme Support")).to_be_visible()
    page.get_by_label("User name").fill(account.username)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Acme Support sign-in")).to_be_visible()
    page.get_by_role("button", name="Allow" if allow else "Deny").click()


def test_connecting_an_account_in_the_browser_then_disconnecting_it(
    person: Callable[..., Person], acme: Connector, connector_client: TestClient, connector_server: LiveServer, provider: OAuthProvider
) -> None:
    other = register_connector(
        connector_client, provider, connector_server.url, name="Northwind Bank", category="bank", website_url="https://northwind.example"
    )
    agent = create_agent(acme.tenant, name="Support Copilot")
    account = acme.account(sub="user_8a72")
    dana = person("dana.oauth@example.com", server=connector_server)
    page = dana.page

    dana.sign_in("/connect/organisations")  # the directory waits while she signs in
    expect(page.get_by_role("heading", name="Connect an account")).to_be_visible()
    row = page.locator(".organisation", has_text="Acme Support")
    expect(row.locator("img.logo")).to_have_attribute("src", f"/directory/{acme.directory_id}/logo")
    expect(row).to_contain_text("saas")
    expect(page.locator(".organisation", has_text="Northwind Bank").locator(".logo.initials")).to_have_text("NB")
    _check(page, tabs=False)
    dana.shot("connect-organisations")
    page.set_viewport_size(PHONE)
    _check(page, tabs=False)
    dana.shot("connect-organisations-phone")
    page.set_viewport_size(DESKTOP)

    # Search narrows the list (no script needed: it is a plain form).
    page.get_by_label("Search organisations").fill("northwind")
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".organisation")).to_have_count(1)
    expect(page.locator(".organisation")).to_contain_text("Northwind Bank")
    page.get_by_label("Search organisations").fill("acme support")
    page.get_by_role("button", name="Search").click()
    expect(page.locator(".organisation")).to_have_count(1)

    page.get_by_role("button", name="Connect your Acme Support account").click()
    expect(page).to_have_url(re.compile(re.escape(provider.url)))
    _at_provider(page, account)

    expect(page).to_have_url(re.compile(r"/connect/organisations/connected/con_"))
    expect(page.get_by_role("heading", name="Account connected")).to_be_visible()
    expect(page.get_by_text("Your Acme Support account is now connected to your Memory Passport.")).to_be_visible()
    expect(page.get_by_text("You can disconnect this anytime from Connections.")).to_be_visible()
    _check(page, tabs=False)
    dana.shot("account-connected")
    page.set_viewport_size(PHONE)
    _check(page, tabs=False)
    dana.shot("account-connected-phone")
    page.set_viewport_size(DESKTOP)

    # The connection alone shares nothing: the agent finds the person, but no grant.
    found = UniversalMemory.resolve_user("user_8a72", agent_api_key=agent.key, base_url=connector_server.url)
    assert found.uui_token is None and found.permission_error == "no_grant_for_user"

    page.get_by_role("link", name="Go to Connections").click()
    connection = page.locator(".connection")
    expect(connection).to_have_count(1)
    expect(connection).to_contain_text("Acme Support")
    expect(connection).to_contain_text("Connected by signing in to Acme Support")
    dana.shot("manage-connections-oauth")
    dana.open("/connect/organisations")
    expect(page.locator(".organisation", has_text="Acme Support").locator(".badge-ok")).to_have_text("Connected")

    dana.open("/manage/connections")
    page.get_by_role("link", name="Disconnect Acme Support").click()
    expect(page.get_by_role("heading", name="Disconnect your Acme Support account?")).to_be_visible()
    page.get_by_role("button", name="Disconnect").click()
    expect(page.get_by_role("status")).to_contain_text("Disconnected. Acme Support is no longer linked")
    expect(page.locator(".connection")).to_have_count(0)
    gone = UniversalMemory.resolve_user("user_8a72", agent_api_key=agent.key, base_url=connector_server.url)
    assert gone.uui_token is None and gone.permission_error == "not_connected"
    dana.open("/manage/activity")
    expect(page.get_by_text("You connected your Acme Support account")).to_be_visible()
    expect(page.get_by_text("You disconnected your Acme Support account")).to_be_visible()
    connector_client.delete("/v1/tenant/directory", headers=other.tenant.key_headers())


class Held:
    """The provider's redirect back to us, held in the browser before it arrives, so the test
    can do what happens "meanwhile" and then let the browser arrive. (A route sees only the
    first request of a redirect chain, so it is the provider's answer to Allow or Deny that is
    fetched here and its redirect kept, instead of followed.)"""

    PATTERN = re.compile(r"/oauth/authorize\?")

    def __init__(self, page: Page) -> None:
        self.page = page
        self.url: str | None = None
        page.route(self.PATTERN, self._hold)

    def _hold(self, route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        answer = route.fetch(max_redirects=0)
        self.url = answer.headers.get("location")
        route.fulfill(status=200, content_type="text/html", body="<!doctype html><title>Held</title><h1>Held by the test</h1>")

    def release(self) -> str:
        expect(self.page.get_by_role("heading", name="Held by the test")).to_be_visible()
        self.page.unroute(self.PATTERN)
        assert self.url is not None, "the provider did not send the browser back"
        return self.url


def _arrive(page: Page, url: str) -> int:
    with page.expect_response(lambda response: "/oauth/callback" in response.url) as arrival:
        page.goto(url)
    return int(arrival.value.status)


FAILURES = {
    # name: (heading on our page, words on it, HTTP status of the callback)
    "forged": ("This sign-in can't be finished here", "not one MemoryOS made for you", 400),
    "replayed": ("This sign-in can't be finished here", "already", 400),
    "expired": ("This sign-in can't be finished here", "longer than 10 minutes", 400),
    "another-browser": ("This sign-in can't be finished here", "not one MemoryOS made for you", 400),
    "signed-out": ("This sign-in can't be finished here", "not signed in", 400),
    "denied": ("Nothing was connected", "You chose not to connect your Acme Support account", 400),
    "token-down": ("We couldn't connect your account", "could not be reached", 502),
    "token-slow": ("We couldn't connect your account", "did not answer in time", 502),
    "token-garbage": ("We couldn't connect your account", "could not read", 502),
    "token-huge": ("We couldn't connect your account", "far larger answer", 502),
    "userinfo-no-sub": ("We couldn't connect your account", "did not say which account", 502),
    "userinfo-huge": ("We couldn't connect your account", "far larger answer", 502),
    "removed": ("This organisation isn't in the directory", "Nothing was connected", 404),
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_every_failure_shows_a_clear_page_and_connects_nothing(
    failure: str,
    person: Callable[..., Person],
    acme: Connector,
    connector_client: TestClient,
    connector_server: LiveServer,
    provider: OAuthProvider,
    runtime: Runtime,
) -> None:
    heading, words, status = FAILURES[failure]
    if failure == "token-down":
        acme.register(oauth_token_url=f"http://127.0.0.1:{free_port()}/oauth/token")  # nothing listens there
    provider.token_mode = {"token-slow": "slow", "token-garbage": "garbage", "token-huge": "huge"}.get(failure, "normal")
    provider.userinfo_mode = {"userinfo-no-sub": "no_sub", "userinfo-huge": "huge"}.get(failure, "normal")
    ed = person(f"ed.{failure}@example.com", server=connector_server)
    ed.sign_in("/connect/organisations")
    held = Held(ed.page)
    ed.page.get_by_role("button", name="Connect your Acme Support account").click()
    _at_provider(ed.page, acme.account(), allow=failure != "denied")
    back = held.release()

    arriving = ed  # who opens the address the provider sent back
    if failure == "forged":
        back = re.sub(r"state=[^&]+", "state=" + "A" * 43, back)
    elif failure == "replayed":
        assert _arrive(ed.page, back) == 303
        expect(ed.page.get_by_role("heading", name="Account connected")).to_be_visible()
    elif failure == "expired":
        # No clock to move: the flow's end moves into the past instead (read against the clock).
        with runtime.db.session() as session:
            session.execute(update(OAuthState).where(OAuthState.used_at.is_(None)).values(expires_at=utcnow() - timedelta(seconds=1)))
    elif failure == "removed":
        assert connector_client.delete("/v1/tenant/directory", headers=acme.tenant.key_headers()).status_code == 200
    elif failure == "another-browser":
        arriving = person("someone.else@example.com", server=connector_server)
        arriving.sign_in()
    elif failure == "signed-out":
        ed.open("/manage")
        ed.page.get_by_role("button", name="Sign out").click()
        expect(ed.page).to_have_url(re.compile(r"/login"))

    assert _arrive(arriving.page, back) == status
    page = arriving.page
    expect(page.get_by_role("heading", name=heading)).to_be_visible()
    expect(page.locator("main")).to_contain_text(words)
    expect(page.get_by_role("link", name="Connect an account")).to_be_visible()
    if failure == "denied":
        ed.shot("oauth-error-denied")
    elif failure == "token-slow":
        ed.shot("oauth-error-slow")
    elif failure == "forged":
        ed.shot("oauth-error-forged")
    if failure == "signed-out":
        ed.sign_in()
    for someone in {id(ed): ed, id(arriving): arriving}.values():
        someone.open("/manage/connections")
        # The first arrival of a replayed address connected the account; nothing else did.
        expect(someone.page.locator(".connection")).to_have_count(1 if failure == "replayed" and someone is ed else 0)
