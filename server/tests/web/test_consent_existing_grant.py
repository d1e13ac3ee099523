"""The consent screen for an agent that already holds an active grant (SPEC §6): it says so, shows
that grant as it is (categories, mode, end), offers "Update access", and Deny leaves the grant
exactly as it was and says so. Over HTTP, without a browser."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import FastAPI
from fastapi.testclient import TestClient

from memoryos_server.settings import Settings
from tests.fixtures.pages import csrf_of, session_headers, signed_in_browser, text_of
from tests.fixtures.passport import AgentHandle, new_agent  # noqa: F401

REDIRECT = "https://app.example/callback"


def _grant(client: TestClient, browser: TestClient) -> dict[str, Any]:
    [grant] = client.get("/v1/uui/me/grants", headers=session_headers(browser)).json()["data"]
    return dict(grant)


def _checked(page: str, name: str) -> list[str]:
    return [
        value
        for tag in re.findall(rf'<input[^>]*name="{name}"[^>]*>', page)
        if " checked" in tag
        for value in re.findall(r'value="([^"]*)"', tag)
    ]


def _consent(agent: AgentHandle, **params: str) -> str:
    return "/consent?" + urlencode({"agent_id": agent.id, **params})


def _answer(browser: TestClient, page: str, agent: AgentHandle, **fields: Any) -> Any:
    form = {"csrf_token": csrf_of(page), "agent_id": agent.id, "redirect_uri": "", "state": "s-1", "link_token": "", **fields}
    return browser.post("/consent", data=form, follow_redirects=False)


def _signed_in_with_grant(
    app: FastAPI, client: TestClient, settings: Settings, agent: AgentHandle, **grant: Any
) -> tuple[TestClient, dict[str, Any]]:
    browser = signed_in_browser(app, settings.resolved_outbox_dir, f"existing-{secrets.token_hex(4)}@example.com")
    body = {"agent_id": agent.id, "categories_allowed": ["fact", "expertise"], "access_type": "read_write", "duration_days": 90, **grant}
    made = client.post("/v1/uui/me/grants", json=body, headers=session_headers(browser))
    assert made.status_code == 200, made.text
    return browser, _grant(client, browser)


def test_the_screen_shows_the_current_grant_and_deny_keeps_it(
    app: FastAPI, client: TestClient, settings: Settings, new_agent: Callable[..., AgentHandle]
) -> None:
    agent = new_agent(name="Study Buddy", redirect_uri=REDIRECT, default_categories_requested=["preference"])
    browser, before = _signed_in_with_grant(app, client, settings, agent)

    # The app asks for other categories, read only by default: the screen shows what it has.
    page = browser.get(_consent(agent, categories="preference,goal", state="s-1")).text
    words = text_of(page)
    assert "Study Buddy already has access to Facts and Expertise (read and write, until" in words
    assert "given on" in words and "This time Study Buddy also asks for Preferences and Goals" in words
    assert sorted(_checked(page, "categories")) == ["expertise", "fact"]
    assert _checked(page, "access_type") == ["read_write"] and _checked(page, "duration") == ["keep"]
    assert re.search(r'<button[^>]*value="approve"[^>]*>Update access</button>', page)
    assert f'href="/manage/agents/{before["id"]}/revoke"' in page

    # Deny: back to the app with status=denied, and the grant is exactly as it was.
    denied = _answer(browser, page, agent, decision="deny", redirect_uri=REDIRECT, categories="preference", duration="30")
    assert denied.status_code == 303
    # ... saying the access it holds stays, so it keeps the UUI it rightly has.
    assert parse_qs(urlsplit(denied.headers["location"]).query) == {"status": ["denied"], "state": ["s-1"], "grant": ["unchanged"]}
    assert _grant(client, browser) == before

    # Without a redirect, the hosted page says that it keeps its access, with a way to revoke.
    hosted = new_agent(name="Quiet Notes")
    made = client.post(
        "/v1/uui/me/grants", json={"agent_id": hosted.id, "categories_allowed": ["goal"]}, headers=session_headers(browser)
    )
    hosted_grant = made.json()["data"]
    page = browser.get(_consent(hosted)).text
    denied = _answer(browser, page, hosted, decision="deny")
    assert denied.headers["location"].startswith("/consent/complete?") and "status=denied" in denied.headers["location"]
    done = browser.get(denied.headers["location"])
    words = text_of(done.text)
    assert "Nothing changed" in words and "Quiet Notes keeps the access you gave on" in words
    assert "gets no access" not in words
    assert f'href="/manage/agents/{hosted_grant["id"]}/revoke"' in done.text
    grants = {g["agent"]["name"]: g for g in client.get("/v1/uui/me/grants", headers=session_headers(browser)).json()["data"]}
    assert grants["Quiet Notes"]["status"] == "active" and grants["Quiet Notes"]["categories_allowed"] == ["goal"]


def test_update_access_with_the_current_end_kept(
    app: FastAPI, client: TestClient, settings: Settings, new_agent: Callable[..., AgentHandle]
) -> None:
    agent = new_agent(name="Planner", redirect_uri=REDIRECT)
    browser, before = _signed_in_with_grant(app, client, settings, agent)
    page = browser.get(_consent(agent, categories="goal", state="s-1")).text

    # One click on "Update access" with what the screen shows changes nothing but the code.
    same = _answer(
        browser, page, agent, decision="approve", redirect_uri=REDIRECT, categories=["fact", "expertise"], access_type="read_write", duration="keep"
    )
    assert same.status_code == 303 and "status=granted" in same.headers["location"] and "code=" in same.headers["location"]
    after = _grant(client, browser)
    assert (after["categories_allowed"], after["access_type"], after["expires_at"]) == (
        before["categories_allowed"], before["access_type"], before["expires_at"]
    )

    # Adding a category, keeping the end.
    page = browser.get(_consent(agent, categories="goal", state="s-1")).text
    _answer(browser, page, agent, decision="approve", redirect_uri=REDIRECT, categories=["fact", "expertise", "goal"], access_type="read_write", duration="keep")
    after = _grant(client, browser)
    assert sorted(after["categories_allowed"]) == ["expertise", "fact", "goal"] and after["expires_at"] == before["expires_at"]


def test_an_ended_grant_is_not_shown_as_current(
    app: FastAPI, client: TestClient, settings: Settings, new_agent: Callable[..., AgentHandle]
) -> None:
    agent = new_agent(name="Old Friend")
    browser, grant = _signed_in_with_grant(app, client, settings, agent)
    assert client.delete(f"/v1/uui/me/grants/{grant['id']}", headers=session_headers(browser)).status_code == 200
    page = browser.get(_consent(agent, categories="goal")).text
    assert "already has access" not in page and _checked(page, "categories") == ["goal"] and _checked(page, "duration") == ["30"]
    assert re.search(r'<button[^>]*value="approve"[^>]*>Approve</button>', page)
    # "Keep the current end" of a grant that has ended is no choice: the person is asked for one.
    kept = _answer(browser, page, agent, decision="approve", categories="goal", access_type="read_only", duration="keep")
    assert kept.status_code == 422 and "Choose how long the access lasts" in text_of(kept.text)
    assert _grant(client, browser)["status"] == "revoked"
    denied = browser.get(_answer(browser, page, agent, decision="deny").headers["location"])
    assert "Nothing was shared" in text_of(denied.text)
