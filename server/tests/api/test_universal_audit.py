"""The user's activity lists every agent read, including the refused ones (nothing returned,
and why), and every UUI handed out through users/resolve. SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from memoryos_server.services.runtime import Runtime
from tests.fixtures.passport import (  # noqa: F401
    AgentHandle,
    PassportHandle,
    as_if_grant_expired,
    connected,
    link_token,
    new_agent,
    new_passport,
)

QUERY = {"query": "what does this person prefer", "limit": 5}


def _activity(client: TestClient, person: PassportHandle) -> list[dict[str, Any]]:
    response = client.get("/v1/uui/me/activity", headers=person.headers())
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def _page_text(app: FastAPI, person: PassportHandle) -> str:
    browser = TestClient(app, raise_server_exceptions=False)
    browser.cookies.set("memoryos_uui_session", person.session_token)
    page = browser.get("/manage/activity")
    assert page.status_code == 200, page.text
    return " ".join(re.sub(r"<[^>]+>", " ", page.text).split())


def _retrieve(client: TestClient, agent: AgentHandle, uui: str, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/universal/memories/retrieve", json={**QUERY, **body}, headers=agent.headers(uui))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _reads(client: TestClient, person: PassportHandle) -> list[dict[str, Any]]:
    return [item for item in _activity(client, person) if item["action"] == "memories.read"]


def test_refused_reads_are_in_the_users_activity_with_the_reason(
    app: FastAPI, client: TestClient, runtime: Runtime, connected: Callable[..., tuple[AgentHandle, PassportHandle, str]]
) -> None:
    agent, person, uui = connected(["preference"], "read_write")
    assert client.post(
        "/v1/universal/memories/add",
        json={"messages": [{"role": "user", "content": "I prefer window seats on trains."}]},
        headers=agent.headers(uui),
    ).status_code == 200

    served = _retrieve(client, agent, uui)
    assert served["permission_error"] is None and len(served["data"]) == 1
    outside = _retrieve(client, agent, uui, categories=["goal"])
    assert outside["permission_error"] == "categories_not_granted" and outside["data"] == []

    grant_id = client.get("/v1/uui/me/grants", headers=person.headers()).json()["data"][0]["id"]
    as_if_grant_expired(runtime, grant_id)
    expired = _retrieve(client, agent, uui)
    assert expired["permission_error"] == "grant_expired" and expired["data"] == []

    assert client.delete(f"/v1/uui/me/grants/{grant_id}", headers=person.headers()).status_code == 200
    revoked = _retrieve(client, agent, uui)
    assert revoked["permission_error"] == "grant_revoked" and revoked["data"] == []

    reads = _reads(client, person)  # newest first
    assert [r["detail"].get("permission_error") for r in reads] == [
        "grant_revoked", "grant_expired", "categories_not_granted", None,
    ]
    for read, answer in zip(reads, [revoked, expired, outside, served], strict=True):
        assert read["agent"]["id"] == agent.id and read["actor_type"] == "agent"
        assert read["detail"]["retrieval_id"] == answer["retrieval_id"]
        assert read["detail"]["returned"] == len(answer["data"])
        assert read["memory_ids"] == [m["id"] for m in answer["data"]]
    assert reads[2]["detail"]["categories_requested"] == ["goal"] and reads[2]["detail"]["categories_searched"] == []

    page = _page_text(app, person)
    name = agent.body["name"]
    assert f"{name} was refused your memories: you had revoked its access" in page
    assert f"{name} was refused your memories: its access had expired" in page
    assert f"{name} was refused your memories: it asked only for categories you have not shared with it" in page
    assert f"{name} read 1 memory" in page


def test_a_uui_handed_out_by_resolve_is_in_the_users_activity(
    app: FastAPI,
    client: TestClient,
    new_agent: Callable[..., AgentHandle],
    new_passport: Callable[..., PassportHandle],
) -> None:
    agent, person, stranger = new_agent(), new_passport(), new_passport()
    link = link_token(agent, "customer-9")
    person.grant(agent, ["goal"], "read_only", link_token=link)

    resolved = client.post("/v1/universal/users/resolve", json={"external_user_id": "customer-9"}, headers=agent.headers())
    assert resolved.status_code == 200 and resolved.json()["data"]["uui_token"].startswith("uui_")
    missing = client.post("/v1/universal/users/resolve", json={"external_user_id": "customer-10"}, headers=agent.headers())
    assert missing.json()["data"] == {"uui_token": None, "permission_error": "not_connected"}

    [event] = [item for item in _activity(client, person) if item["action"] == "user.resolved"]
    assert event["agent"] == {"id": agent.id, "name": agent.body["name"]} and event["actor_type"] == "agent"
    assert "customer-9" not in str(event)  # the tenant's account id is never stored in the clear
    assert f"{agent.body['name']} found your passport through an account you connected" in _page_text(app, person)
    assert [item for item in _activity(client, stranger) if item["action"] == "user.resolved"] == []

    # A resolve that hands nothing out (the grant is revoked) names nobody, so it is not an event.
    grant_id = client.get("/v1/uui/me/grants", headers=person.headers()).json()["data"][0]["id"]
    client.delete(f"/v1/uui/me/grants/{grant_id}", headers=person.headers())
    refused = client.post("/v1/universal/users/resolve", json={"external_user_id": "customer-9"}, headers=agent.headers())
    assert refused.json()["data"] == {"uui_token": None, "permission_error": "grant_revoked"}
    assert len([item for item in _activity(client, person) if item["action"] == "user.resolved"]) == 1


# --- the activity tells what really happened ----------------------------------------------------------


def _add(client: TestClient, agent: AgentHandle, uui: str, *texts: str) -> dict[str, Any]:
    response = client.post(
        "/v1/universal/memories/add", json={"messages": [{"role": "user", "content": t} for t in texts]}, headers=agent.headers(uui)
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _summaries(client: TestClient, person: PassportHandle, action: str) -> list[str]:
    return [item["summary"] for item in _activity(client, person) if item["action"] == action]


def test_a_write_says_what_it_stored_or_that_nothing_was_stored_and_why(
    app: FastAPI, client: TestClient, connected: Callable[..., tuple[AgentHandle, PassportHandle, str]]
) -> None:
    agent, person, uui = connected(["preference", "goal"], "read_write")
    name = agent.body["name"]

    stored = _add(client, agent, uui, "I prefer tea over coffee.", "My goal is to run a marathon next year.")
    assert [r["event"] for r in stored["results"]] == ["ADD", "ADD"]
    outside = _add(client, agent, uui, "I work as a data engineer at a hospital.")
    assert outside["results"] == [] and outside["skipped"] == 1
    small_talk = _add(client, agent, uui, "Hi! How are you today?")
    assert small_talk["results"] == [] and small_talk["skipped"] == 0
    mixed = _add(client, agent, uui, "I prefer window seats on trains.", "My sister Anna lives in Berlin.")
    assert [r["event"] for r in mixed["results"]] == ["ADD"] and mixed["skipped"] == 1

    assert _summaries(client, person, "memories.write") == [  # newest first
        f"{name} stored 1 memory (preference); not stored: 1 outside the categories you allowed",
        f"{name} tried to add memories but nothing was stored: there was nothing in it to remember",
        f"{name} tried to add memories but nothing was stored: 1 outside the categories you allowed",
        f"{name} stored 2 memories (goal, preference)",
    ]
    page = _page_text(app, person)
    assert f"{name} stored 2 memories (goal, preference)" in page
    assert f"{name} tried to add memories but nothing was stored: 1 outside the categories you allowed" in page
    assert "added to your memories" not in page


def test_repeated_lookups_by_one_agent_are_one_line_with_a_count(
    app: FastAPI, client: TestClient, new_agent: Callable[..., AgentHandle], new_passport: Callable[..., PassportHandle]
) -> None:
    agent, person = new_agent(), new_passport()
    person.grant(agent, ["goal"], "read_only", link_token=link_token(agent, "customer-7"))
    resolve = {"external_user_id": "customer-7"}
    uuis = [client.post("/v1/universal/users/resolve", json=resolve, headers=agent.headers()).json()["data"]["uui_token"] for _ in range(3)]
    _retrieve(client, agent, uuis[0])  # something else in between ends a run
    for _ in range(2):
        client.post("/v1/universal/users/resolve", json=resolve, headers=agent.headers())

    items = _activity(client, person)
    lookups = [item for item in items if item["action"] == "user.resolved"]
    assert [item["count"] for item in lookups] == [2, 3]
    name = agent.body["name"]
    assert lookups[1]["summary"] == f"{name} found your passport through an account you connected, 3 times"
    assert lookups[1]["first_at"] <= lookups[1]["created_at"]
    assert [item["action"] for item in items[:3]] == ["user.resolved", "memories.read", "user.resolved"]
    assert sum(item["count"] for item in items) == client.get("/v1/uui/me/activity", headers=person.headers()).json()["pagination"]["total"]

    page = _page_text(app, person)
    assert page.count("found your passport through an account you connected") == 2
    assert f"{name} found your passport through an account you connected, 3 times from " in page


def test_connecting_and_disconnecting_name_the_account(
    app: FastAPI, client: TestClient, new_tenant: Callable[..., Any], new_agent: Callable[..., AgentHandle], new_passport: Callable[..., PassportHandle]
) -> None:
    agent, person = new_agent(owner=new_tenant("Acme Support")), new_passport()
    person.grant(agent, ["goal"], "read_only", link_token=link_token(agent, "customer-1"))
    [connection] = client.get("/v1/uui/me/connections", headers=person.headers()).json()["data"]
    assert client.delete(f"/v1/uui/me/connections/{connection['id']}", headers=person.headers()).status_code == 200

    [disconnected] = [item for item in _activity(client, person) if item["action"] == "connection.deleted"]
    assert disconnected["summary"] == "You disconnected your Acme Support account"
    assert disconnected["detail"]["organisation_name"] == "Acme Support"
    assert _summaries(client, person, "connection.created") == ["You connected your Acme Support account"]
    # The name stays in the trail after the connection (and its row) is gone.
    page = _page_text(app, person)
    assert "You disconnected your Acme Support account" in page and "You connected your Acme Support account" in page


def test_a_memory_history_names_the_agent_that_wrote_it(
    app: FastAPI, client: TestClient, connected: Callable[..., tuple[AgentHandle, PassportHandle, str]]
) -> None:
    agent, person, uui = connected(["preference"], "read_write")
    [memory_id] = [r["id"] for r in _add(client, agent, uui, "I prefer tea over coffee.")["results"]]
    corrected = client.post(
        f"/v1/uui/me/memories/{memory_id}/correct", json={"corrected_content": "Prefers green tea"}, headers=person.headers()
    )
    assert corrected.status_code == 200, corrected.text

    history = client.get(f"/v1/uui/me/memories/{memory_id}/history", headers=person.headers()).json()["data"]
    assert [(v["event"], v["actor_name"]) for v in history] == [("ADD", agent.body["name"]), ("CORRECT", None)]
    browser = TestClient(app, raise_server_exceptions=False)
    browser.cookies.set("memoryos_uui_session", person.session_token)
    page = browser.get(f"/manage/memories/{memory_id}/history")
    words = " ".join(re.sub(r"<[^>]+>", " ", page.text).split())
    assert f"By: {agent.body['name']}" in words and "An agent" not in words and "By: You" in words
    # Once the agent is deleted, its name stays on what it wrote.
    assert agent.tenant.client.delete(f"/v1/agents/global/{agent.id}", headers=agent.tenant.key_headers()).status_code == 200
    history = client.get(f"/v1/uui/me/memories/{memory_id}/history", headers=person.headers()).json()["data"]
    assert history[0]["actor_name"] == agent.body["name"]
    # The export says the same as the history.
    exported = client.get("/v1/uui/me/export", headers=person.headers()).json()["data"]
    [memory] = [m for m in exported["memories"] if m["id"] == memory_id]
    assert [(v["event"], v["actor_name"]) for v in memory["versions"]] == [("ADD", agent.body["name"]), ("CORRECT", None)]
