"""Where the consent screen sends the browser back when the consent URL names no redirect_uri.

SPEC §6: with none given, the agent's registered ``redirect_uri`` is used, and with none
registered, the hosted completion page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect

from memoryos.universal import UniversalMemory
from tests.fixtures.app import LiveServer
from tests.fixtures.passport import AgentHandle, new_agent  # noqa: F401
from tests.web.browser import AgentBackend, Person

pytestmark = pytest.mark.browser


@pytest.fixture
def registered_only(live_server: LiveServer, new_agent: Callable[..., AgentHandle]) -> Iterator[tuple[AgentHandle, AgentBackend]]:
    """An agent whose backend relies on the redirect URI it registered: its consent URLs omit it."""
    backend = AgentBackend(api_url=live_server.url, name="Recipe Box", send_redirect_uri=False).start()
    agent = new_agent(name="Recipe Box", redirect_uri=backend.redirect_uri, default_categories_requested=["preference"])
    backend.agent_key, backend.agent_id = agent.key, agent.id
    yield agent, backend
    backend.stop()


def test_without_a_redirect_uri_the_registered_one_is_used(
    person: Callable[..., Person], client: TestClient, registered_only: tuple[AgentHandle, AgentBackend]
) -> None:
    agent, backend = registered_only
    rosa = person("rosa.registered@example.com")
    rosa.sign_in(backend.start_url)
    consent_query = parse_qs(urlsplit(backend.consent_urls[-1]).query)
    assert "redirect_uri" not in consent_query and consent_query["agent_id"] == [agent.id]
    page = rosa.page
    expect(page.get_by_role("heading", name="Recipe Box wants to use your Memory Passport")).to_be_visible()
    expect(page.get_by_text("Afterwards you'll go back to")).to_contain_text(urlsplit(backend.redirect_uri).netloc)

    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#result")).to_have_text(re.compile("Memory Passport connected"))
    expect(page).to_have_url(re.compile("^" + re.escape(backend.redirect_uri) + r"\?"))
    callback = backend.callbacks[-1]
    assert callback.query["status"] == "granted" and callback.query["state"] == backend.issued_states[-1]
    assert callback.query["code"].startswith("mcc_")
    assert callback.exchange_error is None and callback.uui_token and callback.uui_token.startswith("uui_")
    grant = client.get("/v1/universal/grant", headers=agent.headers(callback.uui_token))
    assert grant.status_code == 200 and grant.json()["data"]["categories_allowed"] == ["preference"]

    # Saying no goes back there too, with the state; Rosa approved a moment ago, so the agent is
    # also told it keeps that access (SPEC §6: Deny leaves an existing grant as it was).
    rosa.open(backend.start_url)
    page.get_by_role("button", name="Deny").click()
    expect(page.locator("#result")).to_contain_text("won't use your Memory Passport")
    assert backend.callbacks[-1].query == {"status": "denied", "state": backend.issued_states[-1], "grant": "unchanged"}


def test_an_agent_without_a_registered_redirect_uri_gets_the_completion_page(
    person: Callable[..., Person], client: TestClient, live_server: LiveServer, new_agent: Callable[..., AgentHandle]
) -> None:
    agent = new_agent(name="Offline Helper")
    assert not agent.body.get("redirect_uri")
    hana = person("hana.hosted@example.com")
    hana.sign_in(UniversalMemory.consent_url(agent.id, state="hosted-1", categories=["goal"], base_url=live_server.url))
    page = hana.page
    expect(page.get_by_text("Afterwards you'll go back to")).to_have_count(0)
    page.get_by_role("button", name="Approve").click()

    expect(page).to_have_url(re.compile(r"/consent/complete\?"))
    assert parse_qs(urlsplit(page.url).query) == {"agent_id": [agent.id], "status": ["granted"]}
    expect(page.get_by_role("heading", name="You're all set")).to_be_visible()
    expect(page.get_by_text("Offline Helper can now read these parts of your memory")).to_be_visible()
    cookie = hana.session_cookie()
    assert cookie is not None
    grants = client.get("/v1/uui/me/grants", headers={"X-MemoryOS-Session": cookie["value"]}).json()["data"]
    assert [(g["agent_id"], g["categories_allowed"], g["status"]) for g in grants] == [(agent.id, ["goal"], "active")]
