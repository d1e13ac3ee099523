"""The Passport over MCP, the tools' side: every call checks the grant again, what the grant says
is what the next call sees, and an MCP client is held to every rule of an agent. Both databases."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from memoryos_server.services.runtime import Runtime
from memoryos_server.settings import Settings
from tests.fixtures.mcp_oauth import Authorization, authorize, call, tool
from tests.fixtures.pages import signed_in_browser
from tests.fixtures.passport import AgentHandle, PassportHandle, as_if_grant_expired, connected, new_agent, new_passport  # noqa: F401
from tests.fixtures.factories import TenantHandle


def _remember(client: TestClient, agent: AgentHandle, uui: str, *texts: str) -> None:
    for text in texts:
        added = client.post("/v1/universal/memories/add", json={"messages": [{"role": "user", "content": text}]}, headers=agent.headers(uui))
        assert added.status_code == 200 and added.json()["results"], added.text


@pytest.fixture
def person_with_memories(
    connected: Callable[..., tuple[AgentHandle, PassportHandle, str]],  # noqa: F811
    client: TestClient,
) -> tuple[PassportHandle, AgentHandle, str]:
    """A person whose other app already wrote a preference, a goal and a fact."""
    writer, passport, uui = connected(["preference", "goal", "fact"], "read_write")
    _remember(client, writer, uui, "I prefer short answers with Python examples.", "My goal is to run a marathon next spring.", "I live in Lisbon.")
    return passport, writer, uui


def _connect(app: FastAPI, client: TestClient, settings: Settings, passport: PassportHandle, categories: list[str], access: str = "read_only") -> Authorization:
    browser = signed_in_browser(app, settings.resolved_outbox_dir, passport.email)
    return authorize(client, browser, categories=categories, access_type=access)


def _grant_of(client: TestClient, passport: PassportHandle, name: str = "Desk Assistant") -> dict:  # type: ignore[type-arg]
    grants = client.get("/v1/uui/me/grants", headers=passport.headers()).json()["data"]
    (grant,) = [g for g in grants if g["agent"]["name"] == name]
    return grant  # type: ignore[no-any-return]


def test_changing_the_grant_changes_what_the_next_call_sees(
    app: FastAPI, client: TestClient, settings: Settings, person_with_memories: tuple[PassportHandle, AgentHandle, str]
) -> None:
    passport, _, _ = person_with_memories
    granted = _connect(app, client, settings, passport, ["preference"])
    token = granted.tokens["access_token"]
    listed = tool(client, token, "list_memories")
    assert [m["category"] for m in listed["memories"]] == ["preference"]

    grant = _grant_of(client, passport)
    widened = client.patch(f"/v1/uui/me/grants/{grant['id']}", json={"categories_allowed": ["goal", "fact"]}, headers=passport.headers())
    assert widened.status_code == 200
    # The same token, the next call: the grant as it stands now.
    assert sorted(m["category"] for m in tool(client, token, "list_memories")["memories"]) == ["fact", "goal"]
    access = tool(client, token, "my_access")
    assert sorted(access["can_read"]) == ["fact", "goal"] and access["can_write"] == []
    context = tool(client, token, "get_context", {"query": "marathon training", "limit": 5})
    assert {m["category"] for m in context["memories"]} <= {"fact", "goal"} and context["memories"]
    assert "short answers" not in context["system_prompt_addition"]


def test_a_read_only_grant_cannot_add_and_says_so(
    app: FastAPI, client: TestClient, settings: Settings, person_with_memories: tuple[PassportHandle, AgentHandle, str]
) -> None:
    passport, _, _ = person_with_memories
    granted = _connect(app, client, settings, passport, ["preference"])
    refused = tool(client, granted.tokens["access_token"], "add_memory", {"messages": [{"role": "user", "content": "I prefer tea."}]})
    assert "read-only access" in refused["error"] and "/manage/agents" in refused["error"]
    assert len(tool(client, granted.tokens["access_token"], "list_memories")["memories"]) == 1


def test_expiry_revocation_and_deleting_the_passport_fail_the_next_call(
    app: FastAPI, client: TestClient, settings: Settings, runtime: Runtime, new_passport: Callable[..., PassportHandle]  # noqa: F811
) -> None:
    expiring = new_passport()
    granted = _connect(app, client, settings, expiring, ["goal"])
    assert call(client, granted.tokens["access_token"], "tools/list").status_code == 200
    as_if_grant_expired(runtime, _grant_of(client, expiring)["id"])
    assert call(client, granted.tokens["access_token"], "tools/list").status_code == 401
    refresh = client.post("/token", data={"grant_type": "refresh_token", "refresh_token": granted.tokens["refresh_token"], "client_id": granted.client_id})
    assert refresh.json()["error"] == "invalid_grant"

    revoking = new_passport()
    granted = _connect(app, client, settings, revoking, ["goal"])
    grant = _grant_of(client, revoking)
    assert client.delete(f"/v1/uui/me/grants/{grant['id']}", headers=revoking.headers()).status_code == 200
    assert call(client, granted.tokens["access_token"], "tools/list").status_code == 401
    # Approving the app again later starts afresh: the old tokens stay dead.
    again = _connect(app, client, settings, revoking, ["goal"])
    assert call(client, again.tokens["access_token"], "tools/list").status_code == 200
    assert call(client, granted.tokens["access_token"], "tools/list").status_code == 401

    leaving = new_passport()
    granted = _connect(app, client, settings, leaving, ["goal"])
    assert client.delete("/v1/uui/me", headers=leaving.headers()).status_code == 200
    assert call(client, granted.tokens["access_token"], "tools/list").status_code == 401


def test_flagged_memories_are_withheld_from_the_client(
    app: FastAPI, client: TestClient, settings: Settings, person_with_memories: tuple[PassportHandle, AgentHandle, str]
) -> None:
    passport, _, _ = person_with_memories
    granted = _connect(app, client, settings, passport, ["preference", "goal"])
    listed = tool(client, granted.tokens["access_token"], "list_memories")["memories"]
    goal = next(m for m in listed if m["category"] == "goal")
    assert client.post(f"/v1/uui/me/memories/{goal['id']}/flag", headers=passport.headers()).status_code == 200
    after = tool(client, granted.tokens["access_token"], "list_memories")
    assert [m["category"] for m in after["memories"]] == ["preference"] and after["total"] == 1
    context = tool(client, granted.tokens["access_token"], "get_context", {"query": "marathon"})
    assert all(m["id"] != goal["id"] for m in context["memories"])


def test_list_memories_pages(
    app: FastAPI, client: TestClient, settings: Settings, connected: Callable[..., tuple[AgentHandle, PassportHandle, str]]  # noqa: F811
) -> None:
    writer, passport, uui = connected(["preference"], "read_write")
    _remember(client, writer, uui, "I prefer tea over coffee.", "I prefer dark mode in editors.", "I prefer trains to planes.")
    granted = _connect(app, client, settings, passport, ["preference"])
    first = tool(client, granted.tokens["access_token"], "list_memories", {"limit": 2})
    assert len(first["memories"]) == 2 and first["total"] == 3 and first["next_cursor"]
    second = tool(client, granted.tokens["access_token"], "list_memories", {"limit": 2, "cursor": first["next_cursor"]})
    assert len(second["memories"]) == 1 and second["next_cursor"] is None
    assert not {m["id"] for m in first["memories"]} & {m["id"] for m in second["memories"]}
    bad = tool(client, granted.tokens["access_token"], "list_memories", {"cursor": "not-a-cursor"})
    assert "error" in bad


def test_the_person_sees_the_client_in_grants_and_activity_and_it_is_no_tenant_agent(
    app: FastAPI, client: TestClient, settings: Settings, tenant: TenantHandle,
    person_with_memories: tuple[PassportHandle, AgentHandle, str],
) -> None:
    passport, _, _ = person_with_memories
    granted = _connect(app, client, settings, passport, ["preference", "goal"], "read_write")
    token = granted.tokens["access_token"]
    tool(client, token, "get_context", {"query": "running"})
    tool(client, token, "add_memory", {"messages": [{"role": "user", "content": "I prefer running in the morning."}]})
    grant = _grant_of(client, passport)
    assert grant["agent"]["verification_status"] == "unregistered" and grant["agent"]["is_verified"] is False
    lines = [item["summary"] for item in client.get("/v1/uui/me/activity", headers=passport.headers()).json()["data"]]
    assert any(line.startswith("Desk Assistant read") for line in lines), lines
    assert any(line.startswith("Desk Assistant stored 1 memory") for line in lines), lines
    # The agent row behind it is not an organisation's agent: no public profile, no approval
    # through /consent or the grants API, no consent code, nothing a tenant or operator lists.
    agent_id = grant["agent_id"]
    assert client.get(f"/v1/agents/global/{agent_id}").status_code == 404
    direct = client.post("/v1/uui/me/grants", json={"agent_id": agent_id, "categories_allowed": ["fact"]}, headers=passport.headers())
    assert direct.status_code == 404
    assert client.post(f"/v1/uui/me/grants/{grant['id']}/code", headers=passport.headers()).status_code == 409
    assert agent_id not in {a["id"] for a in client.get("/v1/agents/global", headers=tenant.key_headers()).json()["data"]}
    # The pairwise identity it is given is its own.
    person_id = tool(client, token, "my_access")["person_id"]
    other = _connect(app, client, settings, passport, ["goal"])
    assert tool(client, other.tokens["access_token"], "my_access")["person_id"] != person_id


def test_text_no_database_can_store_is_refused_as_at_every_other_door(
    app: FastAPI, client: TestClient, settings: Settings, person_with_memories: tuple[PassportHandle, AgentHandle, str]
) -> None:
    """NUL (and unpaired surrogates) are refused by the API's schemas and the pages' forms; the
    MCP tools take the same text and must refuse it the same way, writing nothing."""
    passport, _, _ = person_with_memories
    granted = _connect(app, client, settings, passport, ["fact"], "read_write")
    token = granted.tokens["access_token"]
    before = tool(client, token, "list_memories")["memories"]
    refused = tool(client, token, "add_memory", {"messages": [{"role": "user", "content": "I am allergic to shell\u0000fish."}]})
    assert "error" in refused and "NUL" in refused["error"], refused
    asked = tool(client, token, "get_context", {"query": "shell\u0000fish", "limit": 5})
    assert "error" in asked and "NUL" in asked["error"], asked
    assert tool(client, token, "list_memories")["memories"] == before
