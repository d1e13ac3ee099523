"""``no_grant_for_user``: an agent that holds no grant row for the person it names.

No API path makes such a pair (a UUI comes from a consent code or a resolve, both of which need
an active grant), so it is reached at the service, and by removing the grant row under an agent
that still holds its UUI. Either way the read returns nothing and is recorded. SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from memoryos_server.services.passport.agent_access import AgentCaller
from memoryos_server.storage.models import AuditEvent, GlobalAgent, Grant, UniversalUser
from tests.fixtures.passport import AgentHandle, PassportHandle, connected, new_agent, new_passport  # noqa: F401

ADD = {"messages": [{"role": "user", "content": "I prefer window seats on trains."}]}


def _rows(app: FastAPI, agent: AgentHandle, person: PassportHandle) -> tuple[GlobalAgent, UniversalUser]:
    with app.state.runtime.db.session(write=False) as session:
        agent_row = session.get(GlobalAgent, agent.id)
        user_row = session.execute(select(UniversalUser).where(UniversalUser.public_id == person.user_uui_id)).scalar_one()
        session.expunge_all()
    assert agent_row is not None
    return agent_row, user_row


def test_the_service_refuses_a_pair_that_never_had_a_grant(
    app: FastAPI,
    client: TestClient,
    new_agent: Callable[..., AgentHandle],
    connected: Callable[..., tuple[AgentHandle, PassportHandle, str]],
) -> None:
    writer, person, uui = connected(["preference"], "read_write")
    assert client.post("/v1/universal/memories/add", json=ADD, headers=writer.headers(uui)).status_code == 200
    stranger = new_agent()
    agent_row, user_row = _rows(app, stranger, person)
    services = app.state.services

    with app.state.runtime.db.session() as session:
        scope = services.passport_scopes.agent(session, AgentCaller(agent_row, user_row))
        result = services.memory.retrieve(session, scope, query="window seats")
    assert result.permission_error == "no_grant_for_user"
    assert result.memories == [] and result.system_prompt_addition == "" and result.categories_available == []

    with app.state.runtime.db.session(write=False) as session:
        [event] = session.execute(
            select(AuditEvent).where(AuditEvent.agent_id == stranger.id, AuditEvent.universal_user_id == user_row.id)
        ).scalars().all()
    assert event.action == "memories.read" and event.memory_ids == []
    assert event.detail["permission_error"] == "no_grant_for_user" and event.detail["returned"] == 0
    assert event.detail["retrieval_id"] == result.retrieval_id


def test_an_agent_whose_grant_row_is_gone_reads_nothing_over_http(
    app: FastAPI, client: TestClient, connected: Callable[..., tuple[AgentHandle, PassportHandle, str]]
) -> None:
    agent, person, uui = connected(["preference"], "read_write")
    assert client.post("/v1/universal/memories/add", json=ADD, headers=agent.headers(uui)).status_code == 200
    _, user_row = _rows(app, agent, person)
    with app.state.runtime.db.session() as session:
        removed = session.execute(delete(Grant).where(Grant.agent_id == agent.id, Grant.universal_user_id == user_row.id))
        assert removed.rowcount == 1

    answer = client.post("/v1/universal/memories/retrieve", json={"query": "window seats"}, headers=agent.headers(uui))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["permission_error"] == "no_grant_for_user"
    assert body["data"] == [] and body["system_prompt_addition"] == "" and body["categories_available"] == []
    assert "window" not in answer.text

    refused_write = client.post("/v1/universal/memories/add", json=ADD, headers=agent.headers(uui))
    assert (refused_write.status_code, refused_write.json()["code"]) == (403, "UAT_002")
    assert client.get("/v1/universal/grant", headers=agent.headers(uui)).json()["data"] is None

    [read] = [
        item
        for item in client.get("/v1/uui/me/activity", headers=person.headers()).json()["data"]
        if item["action"] == "memories.read"
    ]
    assert read["detail"]["permission_error"] == "no_grant_for_user" and read["memory_ids"] == []
