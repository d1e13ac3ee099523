"""The permission center in a browser: memories, grants, denial, export and deleting the passport."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator

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


def _writer(client: TestClient, person: Person, agent: AgentHandle, categories: list[str]) -> str:
    """A read-write grant made through the JSON API; the agent's UUI for this person."""
    granted = client.post(
        "/v1/uui/me/grants",
        json={"agent_id": agent.id, "categories_allowed": categories, "access_type": "read_write"},
        headers=_session(person),
    )
    assert granted.status_code == 200, granted.text
    return str(exchange(client, agent, granted.json()["data"]["code"])["uui_token"])


def _remember(client: TestClient, agent: AgentHandle, uui: str, *texts: str) -> list[str]:
    ids = []
    for text in texts:
        added = client.post("/v1/universal/memories/add", json={"messages": [{"role": "user", "content": text}]}, headers=agent.headers(uui))
        assert added.status_code == 200, added.text
        ids.extend(result["id"] for result in added.json()["results"])
    return ids


def test_correct_flag_delete_and_history(person: Callable[..., Person], client: TestClient, new_agent: Callable[..., AgentHandle]) -> None:
    agent = new_agent(name="Diary")
    ada = person("ada.memories@example.com")
    ada.sign_in()
    uui = _writer(client, ada, agent, ["fact", "preference"])
    job_id, pet_id = _remember(client, agent, uui, "I work as a data engineer at a hospital.", "I own a red bicycle.")
    _remember(client, agent, uui, "I prefer tea over coffee.")
    page = ada.page

    ada.open("/manage/memories?category=fact")
    expect(page.get_by_role("link", name="Facts", exact=True)).to_have_attribute("aria-current", "page")
    expect(page.locator(".memory")).to_have_count(2)
    expect(page.get_by_text("Prefers tea over coffee")).to_have_count(0)

    # Correct: the agent reads the new text from now on; the old one stays in the history.
    job = page.locator(f"#memory-{job_id}")
    job.get_by_text("Correct", exact=True).click()
    job.get_by_label("Corrected text").fill("Works as a data scientist at a hospital")
    job.get_by_role("button", name="Save correction").click()
    expect(page.get_by_role("status")).to_contain_text("Corrected.")
    expect(page).to_have_url(re.compile(r"/manage/memories\?category=fact$"))
    expect(page.locator(f"#memory-{job_id} .memory-text")).to_have_text("Works as a data scientist at a hospital")
    seen = client.post("/v1/universal/memories/retrieve", json={"query": "job at the hospital"}, headers=agent.headers(uui)).json()
    assert "data scientist" in seen["system_prompt_addition"] and "data engineer" not in seen["system_prompt_addition"]

    # Blank text is not a correction.
    job = page.locator(f"#memory-{job_id}")
    job.get_by_text("Correct", exact=True).click()
    job.get_by_label("Corrected text").fill("   ")
    job.get_by_role("button", name="Save correction").click()
    expect(page.get_by_role("alert")).to_contain_text("A correction needs some text")
    expect(page.locator(f"#memory-{job_id} .memory-text")).to_have_text("Works as a data scientist at a hospital")

    page.locator(f"#memory-{job_id}").get_by_role("link", name="History of this memory").click()
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Corrected by you")
    expect(rows.nth(1)).to_contain_text("data engineer")
    ada.shot("manage-memory-history")
    page.set_viewport_size(PHONE)
    ada.shot("manage-memory-history-phone")
    page.set_viewport_size(DESKTOP)

    # Flag, then unflag.
    ada.open("/manage/memories?category=fact")
    page.locator(f"#memory-{pet_id}").get_by_role("button", name="Flag as wrong").click()
    expect(page.get_by_role("status")).to_contain_text("Flagged")
    expect(page.locator(f"#memory-{pet_id} .badge", has_text="Flagged")).to_be_visible()
    page.locator(f"#memory-{pet_id}").get_by_role("button", name="Remove flag").click()
    expect(page.locator(f"#memory-{pet_id} .badge", has_text="Flagged")).to_have_count(0)

    # Delete, after saying so.
    pet = page.locator(f"#memory-{pet_id}")
    pet.get_by_text("Delete", exact=True).click()
    pet.get_by_role("button", name="Delete for good").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted for good")
    expect(page.locator(f"#memory-{pet_id}")).to_have_count(0)
    assert client.get(f"/v1/uui/me/memories/{pet_id}", headers=_session(ada)).status_code == 404

    ada.open("/manage/memories?category=secrets")
    expect(page.get_by_role("heading", name="This request isn't valid")).to_be_visible()


def test_changing_a_grant_in_the_permission_center(person: Callable[..., Person], client: TestClient, new_agent: Callable[..., AgentHandle]) -> None:
    agent = new_agent(name="Planner")
    ben = person("ben.edit@example.com")
    ben.sign_in()
    uui = _writer(client, ben, agent, ["goal", "fact"])
    page = ben.page

    ben.open("/manage/agents")
    card = page.locator(".grant", has=page.get_by_role("heading", name="Planner"))
    card.get_by_text("Change access", exact=True).click()
    expect(card.get_by_role("radio", name="Keep the current end")).to_be_checked()
    ben.shot("manage-agents-edit")
    card.get_by_role("checkbox", name=re.compile("^Facts")).uncheck()
    card.get_by_role("checkbox", name=re.compile("^Expertise")).check()
    card.get_by_role("radio", name=re.compile("^Read only")).check()
    card.get_by_role("radio", name="7 days").check()
    card.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_contain_text("Planner's access is updated")
    own = client.get("/v1/universal/grant", headers=agent.headers(uui)).json()["data"]
    assert own["categories_allowed"] == ["goal", "expertise"] and own["access_type"] == "read_only" and own["expires_at"]

    # Nothing ticked: refused by the grant service, and nothing changes.
    card = page.locator(".grant", has=page.get_by_role("heading", name="Planner"))
    card.get_by_text("Change access", exact=True).click()
    for box in card.get_by_role("checkbox").all():
        box.uncheck()
    card.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was changed: choose at least one category")
    assert client.get("/v1/universal/grant", headers=agent.headers(uui)).json()["data"]["categories_allowed"] == ["goal", "expertise"]

    # Until revoked.
    card = page.locator(".grant", has=page.get_by_role("heading", name="Planner"))
    card.get_by_text("Change access", exact=True).click()
    card.get_by_role("radio", name="Until I revoke it").check()
    card.get_by_role("button", name="Save changes").click()
    expect(page.locator(".grant").first).to_contain_text("You revoke it")
    assert client.get("/v1/universal/grant", headers=agent.headers(uui)).json()["data"]["expires_at"] is None


@pytest.fixture
def callback_agent(live_server: LiveServer, new_agent: Callable[..., AgentHandle]) -> Iterator[tuple[AgentHandle, AgentBackend]]:
    backend = AgentBackend(api_url=live_server.url, name="Trip Planner").start()
    agent = new_agent(name="Trip Planner", redirect_uri=backend.redirect_uri, default_categories_requested=["preference"])
    backend.agent_key = agent.key
    yield agent, backend
    backend.stop()


def test_denying_shares_nothing(
    person: Callable[..., Person],
    client: TestClient,
    live_server: LiveServer,
    callback_agent: tuple[AgentHandle, AgentBackend],
    new_agent: Callable[..., AgentHandle],
) -> None:
    agent, backend = callback_agent
    dan = person("dan.deny@example.com")
    dan.sign_in(UniversalMemory.consent_url(agent.id, redirect_uri=backend.redirect_uri, state="trip-1", base_url=live_server.url))
    page = dan.page
    # Approving with nothing ticked is sent back, with the choices kept.
    page.get_by_role("checkbox", name=re.compile("^Preferences")).uncheck()
    page.get_by_role("radio", name="90 days").check()
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose at least one category")
    expect(page.get_by_role("radio", name="90 days")).to_be_checked()
    assert client.get("/v1/uui/me/grants", headers=_session(dan)).json()["data"] == []

    page.get_by_role("button", name="Deny").click()
    expect(page.locator("#result")).to_contain_text("won't use your Memory Passport")
    assert backend.callbacks[-1].query == {"status": "denied", "state": "trip-1"}
    assert client.get("/v1/uui/me/grants", headers=_session(dan)).json()["data"] == []

    hosted = new_agent(name="Quiet Agent")
    dan.open(UniversalMemory.consent_url(hosted.id, categories=["goal"], base_url=live_server.url))
    page.get_by_role("button", name="Deny").click()
    expect(page.get_by_role("heading", name="Nothing was shared")).to_be_visible()
    dan.shot("consent-denied")


def test_export_is_a_real_download(person: Callable[..., Person], client: TestClient, new_agent: Callable[..., AgentHandle]) -> None:
    agent = new_agent(name="Archivist")
    eve = person("eve.export@example.com")
    eve.sign_in()
    uui = _writer(client, eve, agent, ["goal", "preference"])
    _remember(client, agent, uui, "My goal is to learn Italian this year.", "I prefer short emails.")
    page = eve.page
    eve.open("/manage/export")
    eve.shot("manage-export")
    page.set_viewport_size(PHONE)
    eve.shot("manage-export-phone")
    page.set_viewport_size(DESKTOP)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download my data (JSON)").click()
    assert download.value.suggested_filename.endswith(".json")
    data = json.loads(open(download.value.path(), encoding="utf-8").read())["data"]
    assert data["user"]["email"] == eve.email
    assert {m["content"] for m in data["memories"]} == {"Goal is to learn Italian this year", "Prefers short emails"}
    assert [g["agent"]["name"] for g in data["grants"]] == ["Archivist"]
    assert uui not in json.dumps(data)


def test_deleting_the_passport(
    person: Callable[..., Person], client: TestClient, live_server: LiveServer, new_agent: Callable[..., AgentHandle]
) -> None:
    agent = new_agent(name="Companion")
    zoe = person("zoe.delete@example.com")
    zoe.sign_in()
    uui = _writer(client, zoe, agent, ["preference"])
    _remember(client, agent, uui, "I prefer trains to planes.")
    old_session = _session(zoe)
    page = zoe.page

    zoe.open("/manage/delete")
    expect(page.locator(".danger-zone")).to_contain_text("1 memory and its history")
    expect(page.locator(".danger-zone")).to_contain_text("the access of 1 agent")
    zoe.shot("manage-delete")
    page.set_viewport_size(PHONE)
    zoe.shot("manage-delete-phone")

    # Not quite the word: nothing happens.
    page.get_by_label("Type DELETE to confirm").fill("delete")
    page.get_by_role("button", name="Delete my Memory Passport").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was deleted")
    assert client.get("/v1/uui/me", headers=old_session).status_code == 200

    page.get_by_label("Type DELETE to confirm").fill("DELETE")
    page.get_by_role("button", name="Delete my Memory Passport").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("status")).to_contain_text("Your Memory Passport is deleted")
    assert zoe.session_cookie() is None
    assert client.get("/v1/uui/me", headers=old_session).json()["code"] == "UUI_401"
    with UniversalMemory(agent_api_key=agent.key, uui_token=uui, base_url=live_server.url) as memory:
        try:
            result = memory.get(query="how do I like to travel")
        except Exception as refused:  # noqa: BLE001 — either refusal is fine, as long as nothing leaks
            assert getattr(refused, "status_code", None) == 403
        else:
            assert len(result) == 0 and result.system_prompt_addition == ""

    # The same address later starts a new, empty passport.
    zoe.sign_in()
    expect(page.get_by_text("No agent has access yet.")).to_be_visible()
