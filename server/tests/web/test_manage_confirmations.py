"""The permission center over HTTP: revoking and disconnecting ask once (a confirm page that needs
no JavaScript; only its CSRF-checked form changes anything), and agent cards keep their order."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient

from memoryos_server.settings import Settings
from tests.fixtures.pages import csrf_of, session_headers, signed_in_browser, text_of
from tests.fixtures.passport import AgentHandle, link_token, new_agent  # noqa: F401


def _grant(client: TestClient, browser: TestClient, agent: AgentHandle, categories: list[str], **extra: object) -> str:
    granted = client.post(
        "/v1/uui/me/grants", json={"agent_id": agent.id, "categories_allowed": categories, **extra}, headers=session_headers(browser)
    )
    assert granted.status_code == 200, granted.text
    return str(granted.json()["data"]["id"])


def _statuses(client: TestClient, browser: TestClient) -> dict[str, str]:
    return {g["agent"]["name"]: g["status"] for g in client.get("/v1/uui/me/grants", headers=session_headers(browser)).json()["data"]}


def test_revoking_asks_once_and_only_the_confirming_form_revokes(
    app: FastAPI, client: TestClient, settings: Settings, new_agent: Callable[..., AgentHandle]
) -> None:
    agent = new_agent(name="Careful Tutor")
    browser = signed_in_browser(app, settings.resolved_outbox_dir, f"confirm-revoke-{secrets.token_hex(4)}@example.com")
    grant_id = _grant(client, browser, agent, ["goal"], access_type="read_write")

    # The card's "Revoke access" is a link to a confirm page; following it changes nothing.
    cards = browser.get("/manage/agents").text
    assert f'href="/manage/agents/{grant_id}/revoke"' in cards
    confirm = browser.get(f"/manage/agents/{grant_id}/revoke")
    assert confirm.status_code == 200
    words = text_of(confirm.text)
    assert "Revoke Careful Tutor's access?" in words and "no longer read or add to your Memory Passport" in words
    assert _statuses(client, browser) == {"Careful Tutor": "active"}

    # A form without the confirmation (an old page's, or a hand-made one) is sent to ask first.
    token = csrf_of(confirm.text)
    unconfirmed = browser.post(f"/manage/agents/{grant_id}/revoke", data={"csrf_token": token}, follow_redirects=False)
    assert unconfirmed.status_code == 303 and unconfirmed.headers["location"] == f"/manage/agents/{grant_id}/revoke"
    assert _statuses(client, browser) == {"Careful Tutor": "active"}
    # The confirming form without its CSRF token is refused like every other form.
    forged = browser.post(f"/manage/agents/{grant_id}/revoke", data={"confirm": "yes"}, follow_redirects=False)
    assert forged.status_code == 403 and _statuses(client, browser) == {"Careful Tutor": "active"}

    done = browser.post(f"/manage/agents/{grant_id}/revoke", data={"csrf_token": token, "confirm": "yes"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/manage/agents"
    assert _statuses(client, browser) == {"Careful Tutor": "revoked"}
    assert "Careful Tutor can no longer use your Memory Passport" in browser.get("/manage/agents").text
    # Asking again about a revoked grant says so instead of offering to revoke it twice.
    again = browser.get(f"/manage/agents/{grant_id}/revoke", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/manage/agents"

    # Someone else's grant, or none: a page saying so, not a confirm page.
    stranger = signed_in_browser(app, settings.resolved_outbox_dir, f"confirm-stranger-{secrets.token_hex(4)}@example.com")
    assert stranger.get(f"/manage/agents/{grant_id}/revoke").status_code == 404
    assert stranger.get("/manage/agents/grt_nothing/revoke").status_code == 404


def test_disconnecting_asks_once_and_only_the_confirming_form_disconnects(
    app: FastAPI, client: TestClient, settings: Settings, new_agent: Callable[..., AgentHandle], new_tenant: Callable[..., object]
) -> None:
    agent = new_agent(owner=new_tenant("Acme Support"), name="Acme Helper")
    browser = signed_in_browser(app, settings.resolved_outbox_dir, f"confirm-disconnect-{secrets.token_hex(4)}@example.com")
    _grant(client, browser, agent, ["preference"], link_token=link_token(agent, "cust-1"))
    [connection] = client.get("/v1/uui/me/connections", headers=session_headers(browser)).json()["data"]

    listed = browser.get("/manage/connections").text
    assert f'href="/manage/connections/{connection["id"]}/delete"' in listed
    confirm = browser.get(f"/manage/connections/{connection['id']}/delete")
    assert confirm.status_code == 200 and "Disconnect your Acme Support account?" in text_of(confirm.text)
    token = csrf_of(confirm.text)
    unconfirmed = browser.post(f"/manage/connections/{connection['id']}/delete", data={"csrf_token": token}, follow_redirects=False)
    assert unconfirmed.status_code == 303 and unconfirmed.headers["location"].endswith("/delete")
    assert len(client.get("/v1/uui/me/connections", headers=session_headers(browser)).json()["data"]) == 1

    done = browser.post(
        f"/manage/connections/{connection['id']}/delete", data={"csrf_token": token, "confirm": "yes"}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/manage/connections"
    assert client.get("/v1/uui/me/connections", headers=session_headers(browser)).json()["data"] == []
    assert "Disconnected. Acme Support is no longer linked" in browser.get("/manage/connections").text
    assert browser.get(f"/manage/connections/{connection['id']}/delete").status_code == 404


def test_agent_cards_keep_their_order_after_an_edit(
    app: FastAPI, client: TestClient, settings: Settings, new_agent: Callable[..., AgentHandle]
) -> None:
    browser = signed_in_browser(app, settings.resolved_outbox_dir, f"card-order-{secrets.token_hex(4)}@example.com")
    ids = {name: _grant(client, browser, new_agent(name=name), ["goal"]) for name in ("Atlas Coach", "zeta notes", "Mango Planner")}

    def order() -> list[str]:
        return re.findall(r'<li class="card grant" id="grant-([^"]+)"', browser.get("/manage/agents").text)

    by_name = [ids["Atlas Coach"], ids["Mango Planner"], ids["zeta notes"]]
    assert order() == by_name
    for name in ("Atlas Coach", "zeta notes", "Mango Planner"):  # each edit is the newest change in turn
        token = csrf_of(browser.get("/manage/agents").text)
        edited = browser.post(
            f"/manage/agents/{ids[name]}/edit",
            data={"csrf_token": token, "categories": ["goal", "fact"], "access_type": "read_only", "duration": "7"},
            follow_redirects=False,
        )
        assert edited.status_code == 303, edited.text
        assert order() == by_name, name
    # A revoked grant goes below the active ones, and the others keep their places.
    token = csrf_of(browser.get(f"/manage/agents/{ids['Atlas Coach']}/revoke").text)
    browser.post(f"/manage/agents/{ids['Atlas Coach']}/revoke", data={"csrf_token": token, "confirm": "yes"})
    assert order() == [ids["Mango Planner"], ids["zeta notes"], ids["Atlas Coach"]]
