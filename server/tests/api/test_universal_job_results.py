"""An add's job outlives the grant that made it: its results show an agent only what the
agent may read *now*.

A job's results name memories (an UPDATE's or a NOOP's text is the stored memory's, not the
agent's words), and the agent may poll them long after the add. So once the person flags or
deletes a memory, takes a category back, or revokes or lets the grant expire, the job keeps
its state and counts and stops naming that memory. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from memoryos_server.services.runtime import Runtime
from tests.fixtures.passport import AgentHandle, PassportHandle, as_if_grant_expired, new_agent, new_passport  # noqa: F401
from tests.fixtures.passport import exchange

TEA = "I prefer green tea to coffee in the morning."
LISBON = "I live in Lisbon."


def _added(client: TestClient, agent: AgentHandle, passport: PassportHandle, text: str) -> tuple[str, str, dict[str, Any]]:
    """The agent, granted preference and fact to write, adds ``text``: its UUI, the grant's id
    and the add's answer."""
    granted = passport.grant(agent, ["preference", "fact"], "read_write")
    uui = exchange(client, agent, granted["code"])["uui_token"]
    added = client.post("/v1/universal/memories/add", json={"messages": [{"role": "user", "content": text}]}, headers=agent.headers(uui))
    assert added.status_code == 200, added.text
    return uui, granted["id"], added.json()


def _job(client: TestClient, agent: AgentHandle, uui: str, job_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/universal/memories/jobs/{job_id}", headers=agent.headers(uui))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _named(job: dict[str, Any]) -> set[str]:
    result = job["result"]
    return {r["id"] for r in result["results"]} | set(result["created_memory_ids"])


def _flag(client: TestClient, passport: PassportHandle, memory_id: str, grant_id: str, runtime: Runtime) -> None:
    assert client.post(f"/v1/uui/me/memories/{memory_id}/flag", headers=passport.headers()).status_code == 200


def _delete(client: TestClient, passport: PassportHandle, memory_id: str, grant_id: str, runtime: Runtime) -> None:
    assert client.delete(f"/v1/uui/me/memories/{memory_id}", headers=passport.headers()).status_code == 200


def _take_back(client: TestClient, passport: PassportHandle, memory_id: str, grant_id: str, runtime: Runtime) -> None:
    changed = client.patch(f"/v1/uui/me/grants/{grant_id}", json={"categories_allowed": ["fact"]}, headers=passport.headers())
    assert changed.status_code == 200, changed.text


def _revoke(client: TestClient, passport: PassportHandle, memory_id: str, grant_id: str, runtime: Runtime) -> None:
    assert client.delete(f"/v1/uui/me/grants/{grant_id}", headers=passport.headers()).status_code == 200


def _expire(client: TestClient, passport: PassportHandle, memory_id: str, grant_id: str, runtime: Runtime) -> None:
    as_if_grant_expired(runtime, grant_id)


ONE_MEMORY = [(_flag, "flagged"), (_delete, "deleted"), (_take_back, "category taken back")]
EVERY_MEMORY = [(_revoke, "revoked"), (_expire, "expired")]


@pytest.mark.parametrize("change", [c for c, _ in ONE_MEMORY], ids=[i for _, i in ONE_MEMORY])
def test_a_job_stops_naming_a_memory_the_agent_may_no_longer_read(
    client: TestClient, new_agent: Callable[..., AgentHandle], new_passport: Callable[..., PassportHandle], change: Callable[..., None]
) -> None:
    agent, passport = new_agent(), new_passport()
    uui, grant_id, added = _added(client, agent, passport, f"{TEA} {LISBON}")
    by_category = {r["category"]: r for r in added["results"]}
    assert set(by_category) == {"preference", "fact"}, added
    tea, lisbon = by_category["preference"]["id"], by_category["fact"]["id"]
    job_id = added["job_id"]
    assert _named(_job(client, agent, uui, job_id)) == {tea, lisbon}

    change(client, passport, tea, grant_id, client.app.state.runtime)  # type: ignore[attr-defined]

    job = _job(client, agent, uui, job_id)
    assert job["status"] == "completed" and job["memories_created"] == 2  # its state and counts stay
    assert _named(job) == {lisbon}, job
    assert "tea" not in str(job).lower()
    # What the job no longer names, the agent's searches do not find either.
    found = client.post("/v1/universal/memories/retrieve", json={"query": "green tea in the morning"}, headers=agent.headers(uui))
    assert found.status_code == 200 and tea not in {m["id"] for m in found.json()["data"]}


@pytest.mark.parametrize("change", [c for c, _ in EVERY_MEMORY], ids=[i for _, i in EVERY_MEMORY])
def test_a_job_names_no_memory_once_the_grant_is_gone(
    client: TestClient, new_agent: Callable[..., AgentHandle], new_passport: Callable[..., PassportHandle], change: Callable[..., None]
) -> None:
    agent, passport = new_agent(), new_passport()
    uui, grant_id, added = _added(client, agent, passport, TEA)
    assert added["results"], added
    job_id = added["job_id"]

    change(client, passport, "", grant_id, client.app.state.runtime)  # type: ignore[attr-defined]

    job = _job(client, agent, uui, job_id)
    assert job["status"] == "completed" and job["memories_created"] == 1
    assert job["result"]["results"] == [] and job["result"]["created_memory_ids"] == [], job
    assert "tea" not in str(job).lower()
