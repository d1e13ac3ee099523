"""The flag on /manage/memories (without JavaScript) withholds the memory from agents until the
person removes it; the page keeps showing the memory, marked Flagged."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from memoryos_server.settings import Settings
from tests.fixtures.passport import client_from, connected, fresh_ip, latest_code, new_agent, new_passport  # noqa: F401


def _csrf(text: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert match, "the page has no CSRF token"
    return match.group(1)


def _signed_in_browser(app: FastAPI, settings: Settings, email: str) -> TestClient:
    browser = client_from(app, fresh_ip())
    browser.post("/login", data={"csrf_token": _csrf(browser.get("/login").text), "email": email}, follow_redirects=False)
    form = browser.get("/login/code")
    signed = browser.post(
        "/login/code",
        data={"csrf_token": _csrf(form.text), "code": latest_code(settings.resolved_outbox_dir, email)},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text
    return browser


def _agent_sees(client: TestClient, agent, uui: str) -> tuple[list[str], str]:  # type: ignore[no-untyped-def]
    body = client.post(
        "/v1/universal/memories/retrieve", json={"query": "Kubernetes experience"}, headers=agent.headers(uui)
    ).json()
    return [m["id"] for m in body["data"]], body["system_prompt_addition"]


def _flag_form(browser: TestClient, memory_id: str, flagged: str) -> None:
    page = browser.get("/manage/memories")
    posted = browser.post(
        f"/manage/memories/{memory_id}/flag",
        data={"csrf_token": _csrf(page.text), "flagged": flagged, "back": "/manage/memories"},
        follow_redirects=False,
    )
    assert posted.status_code == 303, posted.text


def test_the_pages_flag_withholds_the_memory_from_agents(app: FastAPI, client: TestClient, settings: Settings, connected) -> None:  # type: ignore[no-untyped-def]
    agent, person, uui = connected(["expertise"], "read_write")
    added = client.post(
        "/v1/universal/memories/add",
        json={"messages": [{"role": "user", "content": "I have ten years of experience with Kubernetes"}]},
        headers=agent.headers(uui),
    ).json()
    memory_id = added["results"][0]["id"]
    browser = _signed_in_browser(app, settings, person.email)

    _flag_form(browser, memory_id, "1")
    assert _agent_sees(client, agent, uui) == ([], "")
    page = browser.get("/manage/memories").text
    item = page[page.index(f'id="memory-{memory_id}"') :]
    assert "Has ten years of experience with Kubernetes" in item and "Flagged" in item.split("</li>")[0]

    _flag_form(browser, memory_id, "0")
    ids, prompt = _agent_sees(client, agent, uui)
    assert ids == [memory_id] and "Kubernetes" in prompt
