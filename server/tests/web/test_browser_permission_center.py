"""The permission center's promises, in Chromium: an agent that already has access is shown as it
is and Deny keeps it; revoking asks once; cards stay put; sessions can be seen and signed out."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect

from memoryos.universal import UniversalMemory
from tests.fixtures.app import LiveServer
from tests.fixtures.passport import AgentHandle, exchange, new_agent  # noqa: F401
from tests.web.browser import DESKTOP, PHONE, AgentBackend, Person

pytestmark = pytest.mark.browser


def _session(person: Person) -> dict[str, str]:
    cookie = person.session_cookie()
    assert cookie is not None
    return {"X-MemoryOS-Session": cookie["value"]}


def _grant(client: TestClient, person: Person, agent_name: str) -> dict[str, Any]:
    grants = client.get("/v1/uui/me/grants", headers=_session(person)).json()["data"]
    return next(g for g in grants if g["agent"]["name"] == agent_name)


@pytest.fixture
def tutor(live_server: LiveServer, new_agent: Callable[..., AgentHandle]) -> Iterator[tuple[AgentHandle, AgentBackend]]:
    backend = AgentBackend(api_url=live_server.url, name="Study Buddy").start()
    agent = new_agent(name="Study Buddy", redirect_uri=backend.redirect_uri, default_categories_requested=["preference", "goal"])
    backend.agent_key, backend.agent_id = agent.key, agent.id
    backend.categories = ["preference", "goal"]
    yield agent, backend
    backend.stop()


def test_an_agent_that_already_has_access_is_shown_as_it_is_and_deny_keeps_it(
    person: Callable[..., Person], client: TestClient, live_server: LiveServer, tutor: tuple[AgentHandle, AgentBackend],
    new_agent: Callable[..., AgentHandle],
) -> None:
    agent, backend = tutor
    ana = person("ana.again@example.com")
    page = ana.page

    # The sign-in page reached from the app's link says who is asking.
    ana.open(backend.start_url)
    expect(page.get_by_role("heading", name="Sign in to connect Study Buddy")).to_be_visible()
    ana.ask_for_code()
    ana.enter_code(ana.latest_code())
    page.get_by_role("radio", name=re.compile("^Read and write")).check()
    page.get_by_role("radio", name="90 days").check()
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#result")).to_contain_text("Memory Passport connected")
    before = _grant(client, ana, "Study Buddy")

    # Later the app asks again, now for goals and expertise: the screen shows what it has.
    backend.categories = ["goal", "expertise"]
    ana.open(backend.start_url)
    expect(page.locator("#current-access")).to_contain_text("Study Buddy already has access to Preferences and Goals (read and write, until")
    expect(page.locator("#current-access")).to_contain_text("given on")
    expect(page.locator("#current-access")).to_contain_text("This time Study Buddy also asks for Expertise")
    expect(page.get_by_role("checkbox", name=re.compile("^Preferences"))).to_be_checked()
    expect(page.get_by_role("checkbox", name=re.compile("^Goals"))).to_be_checked()
    expect(page.get_by_role("checkbox", name=re.compile("^Expertise"))).not_to_be_checked()
    expect(page.get_by_role("radio", name=re.compile("^Read and write"))).to_be_checked()
    expect(page.get_by_role("radio", name=re.compile("^Keep: until "))).to_be_checked()
    expect(page.get_by_role("button", name="Update access")).to_be_visible()
    expect(page.get_by_role("button", name="Approve", exact=True)).to_have_count(0)
    ana.shot("consent-existing")
    page.set_viewport_size(PHONE)
    ana.shot("consent-existing-phone")
    page.set_viewport_size(DESKTOP)

    # Deny: the app hears no, and the grant is exactly as it was.
    page.get_by_role("button", name="Deny").click()
    expect(page.locator("#result")).to_contain_text("won't use your Memory Passport")
    assert backend.callbacks[-1].query["status"] == "denied"
    assert _grant(client, ana, "Study Buddy") == before

    # Update access: one category more, the end kept.
    ana.open(backend.start_url)
    page.get_by_role("checkbox", name=re.compile("^Expertise")).check()
    page.get_by_role("button", name="Update access").click()
    expect(page.locator("#result")).to_contain_text("Memory Passport connected")
    after = _grant(client, ana, "Study Buddy")
    assert sorted(after["categories_allowed"]) == ["expertise", "goal", "preference"]
    assert after["expires_at"] == before["expires_at"] and after["access_type"] == "read_write"

    # An agent without a redirect: the hosted page says what it keeps, and how to end it.
    quiet = new_agent(name="Quiet Notes")
    client.post("/v1/uui/me/grants", json={"agent_id": quiet.id, "categories_allowed": ["goal"]}, headers=_session(ana))
    ana.open(UniversalMemory.consent_url(quiet.id, categories=["fact"], base_url=live_server.url))
    page.get_by_role("button", name="Deny").click()
    expect(page.get_by_role("heading", name="Nothing changed")).to_be_visible()
    expect(page.get_by_text("Quiet Notes keeps the access you gave on")).to_be_visible()
    ana.shot("consent-denied-kept")
    page.get_by_role("link", name="revoke Quiet Notes's access").click()
    expect(page.get_by_role("heading", name="Revoke Quiet Notes's access?")).to_be_visible()
    assert _grant(client, ana, "Quiet Notes")["status"] == "active"


def test_revoking_asks_once_and_cards_stay_put(
    person: Callable[..., Person], client: TestClient, live_server: LiveServer, new_agent: Callable[..., AgentHandle]
) -> None:
    bo = person("bo.once@example.com")
    bo.sign_in()
    page = bo.page
    agents = {name: new_agent(name=name) for name in ("Atlas Coach", "Mango Planner", "Zeta Notes")}
    uuis = {}
    for name, agent in agents.items():
        granted = client.post(
            "/v1/uui/me/grants", json={"agent_id": agent.id, "categories_allowed": ["goal"]}, headers=_session(bo)
        ).json()["data"]
        uuis[name] = exchange(client, agent, granted["code"])["uui_token"]

    def names() -> list[str]:
        return page.locator(".grant h3").all_inner_texts()

    bo.open("/manage/agents")
    assert names() == ["Atlas Coach", "Mango Planner", "Zeta Notes"]
    # Editing the last card leaves it where it was.
    card = page.locator(".grant", has=page.get_by_role("heading", name="Zeta Notes"))
    card.get_by_text("Change access", exact=True).click()
    card.get_by_role("checkbox", name=re.compile("^Facts")).check()
    card.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_contain_text("Zeta Notes's access is updated")
    assert names() == ["Atlas Coach", "Mango Planner", "Zeta Notes"]

    # One click on "Revoke access" asks; the agent still reads until the answer is yes.
    page.locator(".grant", has=page.get_by_role("heading", name="Mango Planner")).get_by_role("link", name="Revoke access").click()
    expect(page.get_by_role("heading", name="Revoke Mango Planner's access?")).to_be_visible()
    mango = agents["Mango Planner"]
    assert client.get("/v1/universal/grant", headers=mango.headers(uuis["Mango Planner"])).json()["data"]["status"] == "active"
    page.get_by_role("link", name="Cancel").click()
    expect(page).to_have_url(re.compile(r"/manage/agents"))
    assert _grant(client, bo, "Mango Planner")["status"] == "active"

    page.locator(".grant", has=page.get_by_role("heading", name="Mango Planner")).get_by_role("link", name="Revoke access").click()
    page.get_by_role("button", name="Revoke access").click()
    expect(page.get_by_role("status")).to_contain_text("Mango Planner can no longer use your Memory Passport")
    assert _grant(client, bo, "Mango Planner")["status"] == "revoked"
    with UniversalMemory(agent_api_key=mango.key, uui_token=uuis["Mango Planner"], base_url=live_server.url) as memory:
        assert memory.get(query="goals").permission_status == "grant_revoked"
    assert names() == ["Atlas Coach", "Zeta Notes", "Mango Planner"]  # revoked ones go last


def test_sessions_elsewhere_are_listed_and_signed_out(person: Callable[..., Person], client: TestClient) -> None:
    home = person("cy.sessions@example.com")
    home.sign_in()
    work = person("cy.sessions@example.com")  # the same person, in another browser
    work.sign_in()
    train = person("cy.sessions@example.com")
    train.sign_in()
    page = home.page

    home.open("/manage/sessions")
    expect(page.get_by_role("link", name="Sessions", exact=True)).to_have_attribute("aria-current", "page")
    sessions = page.locator(".session")
    expect(sessions).to_have_count(3)
    expect(sessions.first).to_contain_text("Chrome on Linux")
    expect(sessions.first).to_contain_text("This session")
    expect(page.locator(".session", has_text="This session")).to_have_count(1)
    home.shot("manage-sessions")
    page.set_viewport_size(PHONE)
    home.shot("manage-sessions-phone")
    page.set_viewport_size(DESKTOP)

    # Sign out the work browser: asked once, then its next page load goes to sign-in.
    work_id = next(s["id"] for s in client.get("/v1/uui/me/sessions", headers=_session(work)).json()["data"] if s["current"])
    page.locator(f"#session-{work_id}").get_by_role("link", name=re.compile("^Sign out")).click()
    expect(page.get_by_role("heading", name="Sign out Chrome on Linux?")).to_be_visible()
    work.open("/manage/agents")
    expect(work.page).to_have_url(re.compile(r"/manage/agents$"))  # not yet
    page.get_by_role("button", name="Sign out that session").click()
    expect(page.get_by_role("status")).to_contain_text("Signed out Chrome on Linux.")
    expect(page.locator(".session")).to_have_count(2)
    work.open("/manage/agents")
    expect(work.page).to_have_url(re.compile(r"/login\?next=%2Fmanage%2Fagents$"))

    # All others: this browser stays signed in.
    page.get_by_role("link", name="Sign out all other sessions").click()
    expect(page.get_by_role("heading", name="Sign out of 1 session elsewhere?")).to_be_visible()
    home.shot("manage-sessions-confirm")
    page.get_by_role("button", name="Sign out all other sessions").click()
    expect(page.get_by_role("status")).to_contain_text("Signed out of 1 session elsewhere. This one stays signed in.")
    expect(page.locator(".session")).to_have_count(1)
    train.open("/manage/memories")
    expect(train.page).to_have_url(re.compile(r"/login\?next="))
    home.open("/manage/memories")
    expect(page).to_have_url(re.compile(r"/manage/memories$"))
