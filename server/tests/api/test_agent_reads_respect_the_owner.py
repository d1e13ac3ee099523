"""What agents read over HTTP respects what the owner said (SPEC §5–§7), on SQLite and PostgreSQL:

- a flagged memory is withheld from every retrieve until unflagged — a passport user's flag
  (``/v1/uui/me/memories/{id}/flag``) for agents, a tenant's ``PATCH {"flagged": …}`` for the
  tenant's own retrieve (end-user and workspace) — and stays listed, marked;
- after "neither is correct", items carry ``unconfirmed: true`` and the prompt block tags them;
- an add whose memories were all dropped for their category is not ``nothing_to_extract``.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.fixtures.factories import TenantHandle
from tests.fixtures.passport import AgentHandle, connected, new_agent, new_passport  # noqa: F401

KUBERNETES = "I have ten years of experience with Kubernetes"
HELM = "I maintain the Helm charts for our Kubernetes clusters"


def _agent_add(client: TestClient, agent: AgentHandle, uui: str, *texts: str) -> dict[str, Any]:
    response = client.post(
        "/v1/universal/memories/add",
        json={"messages": [{"role": "user", "content": text} for text in texts]},
        headers=agent.headers(uui),
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _agent_get(client: TestClient, agent: AgentHandle, uui: str, query: str, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/universal/memories/retrieve", json={"query": query, **body}, headers=agent.headers(uui))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _tenant_add(client: TestClient, tenant: TenantHandle, user: str, *texts: str) -> dict[str, Any]:
    response = client.post(
        "/v1/memories/add",
        json={"messages": [{"role": "user", "content": t} for t in texts]},
        headers=tenant.key_headers(user),
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _tenant_get(client: TestClient, tenant: TenantHandle, user: str, query: str, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/memories/retrieve", json={"query": query, **body}, headers=tenant.key_headers(user))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


# --- flags -------------------------------------------------------------------------------------------


def test_a_passport_users_flag_withholds_the_memory_from_agents(client: TestClient, connected) -> None:  # type: ignore[no-untyped-def]
    agent, person, uui = connected(["expertise", "fact"], "read_write")
    [flagged] = _agent_add(client, agent, uui, KUBERNETES)["results"]
    [kept] = _agent_add(client, agent, uui, HELM)["results"]
    other_agent, _, other_uui = connected(["expertise", "fact"], passport=person)
    assert flagged["id"] in [m["id"] for m in _agent_get(client, agent, uui, "Kubernetes")["data"]]

    response = client.post(f"/v1/uui/me/memories/{flagged['id']}/flag", headers=person.headers())
    assert response.status_code == 200 and response.json()["data"]["flagged"] is True
    for reader, token in ((agent, uui), (other_agent, other_uui)):
        for fmt in ("bullets", "json", "xml"):
            seen = _agent_get(client, reader, token, "Kubernetes experience", format=fmt)
            assert [m["id"] for m in seen["data"]] == [kept["id"]]
            assert "ten years" not in seen["system_prompt_addition"]
    one = _agent_get(client, agent, uui, "ten years of experience with Kubernetes", limit=1)
    assert [m["id"] for m in one["data"]] == [kept["id"]]  # withheld inside the search, not after it
    listed = {m["id"]: m for m in client.get("/v1/uui/me/memories", headers=person.headers()).json()["data"]}
    assert listed[flagged["id"]]["flagged"] is True and listed[kept["id"]]["flagged"] is False

    client.delete(f"/v1/uui/me/memories/{flagged['id']}/flag", headers=person.headers())
    back = _agent_get(client, agent, uui, "ten years of experience with Kubernetes", limit=1)
    assert [m["id"] for m in back["data"]] == [flagged["id"]] and "ten years" in back["system_prompt_addition"]


def test_a_tenant_flag_withholds_the_memory_from_the_tenants_retrieve(client: TestClient, tenant: TenantHandle) -> None:
    [flagged] = _tenant_add(client, tenant, "alice", KUBERNETES)["results"]
    [kept] = _tenant_add(client, tenant, "alice", HELM)["results"]
    headers = tenant.key_headers("alice")
    patched = client.patch(f"/v1/memories/{flagged['id']}", json={"flagged": True}, headers=headers)
    assert patched.status_code == 200, patched.text
    assert patched.json()["data"]["flagged"] is True and patched.json()["data"]["content"] == flagged["memory"]

    seen = _tenant_get(client, tenant, "alice", "ten years of experience with Kubernetes", limit=1)
    assert [m["id"] for m in seen["data"]] == [kept["id"]] and "ten years" not in seen["system_prompt_addition"]
    assert client.get(f"/v1/memories/{flagged['id']}", headers=headers).json()["data"]["flagged"] is True
    listed = {m["id"]: m for m in client.get("/v1/memories", headers=headers).json()["data"]}
    assert listed[flagged["id"]]["flagged"] is True
    history = client.get(f"/v1/memories/{flagged['id']}/history", headers=headers).json()["data"]
    assert [v["event"] for v in history] == ["ADD", "FLAG"]

    client.patch(f"/v1/memories/{flagged['id']}", json={"flagged": False}, headers=headers)
    back = _tenant_get(client, tenant, "alice", "ten years of experience with Kubernetes", limit=1)
    assert [m["id"] for m in back["data"]] == [flagged["id"]]
    assert client.patch(f"/v1/memories/{flagged['id']}", json={"flagged": "maybe"}, headers=headers).status_code == 422
    assert client.patch(f"/v1/memories/{flagged['id']}", json={}, headers=headers).status_code == 422


def test_a_flagged_workspace_memory_is_withheld_from_workspace_retrieve(client: TestClient, tenant: TenantHandle) -> None:
    jwt = tenant.jwt_headers()
    added = client.post(
        "/v1/workspace/memories/add",
        json={"messages": [{"role": "user", "content": "Our support line is open from 9 to 5"}], "infer": False},
        headers=jwt,
    ).json()["results"][0]
    assert client.patch(f"/v1/workspace/memories/{added['id']}", json={"flagged": True}, headers=jwt).status_code == 200
    seen = client.post("/v1/workspace/memories/retrieve", json={"query": "support line"}, headers=jwt).json()
    assert seen["data"] == [] and seen["system_prompt_addition"] == ""
    assert client.get(f"/v1/workspace/memories/{added['id']}", headers=jwt).json()["data"]["flagged"] is True


# --- "neither is correct" ----------------------------------------------------------------------------


def test_neither_marks_both_memories_unconfirmed_for_an_agent(client: TestClient, connected) -> None:  # type: ignore[no-untyped-def]
    agent, person, uui = connected(["fact"], "read_write")
    _agent_add(client, agent, uui, "My exam is on March 10.")
    assert _agent_add(client, agent, uui, "My exam is on March 15.")["results"][0]["event"] == "CONFLICT"
    disputed = _agent_get(client, agent, uui, "when is the exam")
    assert [(m["disputed"], m["unconfirmed"]) for m in disputed["data"]] == [(True, False), (True, False)]
    [question] = client.get("/v1/uui/me/clarifications", headers=person.headers()).json()["data"]
    answered = client.post(
        f"/v1/uui/me/clarifications/{question['id']}/answer", json={"answer": "neither"}, headers=person.headers()
    )
    assert answered.status_code == 200, answered.text

    seen = _agent_get(client, agent, uui, "when is the exam")
    assert [(m["disputed"], m["unconfirmed"]) for m in seen["data"]] == [(False, True), (False, True)]
    assert seen["system_prompt_addition"].count("[unconfirmed]") == 3  # two items and the note
    assert '"unconfirmed":true' in _agent_get(client, agent, uui, "when is the exam", format="json")["system_prompt_addition"]
    assert 'unconfirmed="true"' in _agent_get(client, agent, uui, "when is the exam", format="xml")["system_prompt_addition"]


def test_neither_marks_both_memories_unconfirmed_for_a_tenant(client: TestClient, tenant: TenantHandle) -> None:
    _tenant_add(client, tenant, "bob", "My manager is Alice")
    _tenant_add(client, tenant, "bob", "My manager is Carol")
    clarification = _tenant_get(client, tenant, "bob", "Who is the manager?")["clarification"]
    answered = client.post(
        f"/v1/memories/clarifications/{clarification['id']}/answer",
        json={"answer": "neither"},
        headers=tenant.key_headers("bob"),
    )
    assert answered.status_code == 200, answered.text
    seen = _tenant_get(client, tenant, "bob", "Who is the manager?")
    assert len(seen["data"]) == 2 and all(m["unconfirmed"] is True for m in seen["data"])
    assert "[unconfirmed]" in seen["system_prompt_addition"] and seen["clarification"] is None
    fresh = _tenant_get(client, tenant, "carol-never-asked", "anything")
    assert fresh["data"] == []


# --- nothing_to_extract ------------------------------------------------------------------------------


def test_memories_dropped_for_their_category_are_not_nothing_to_extract(client: TestClient, connected) -> None:  # type: ignore[no-untyped-def]
    agent, _, uui = connected(["goal"], "read_write")
    dropped = _agent_add(client, agent, uui, "Please remember that I prefer short answers and Python examples.")
    assert dropped["nothing_to_extract"] is False and dropped["skipped"] == 1 and dropped["results"] == []
    small_talk = _agent_add(client, agent, uui, "hi, how are you?")
    assert small_talk["nothing_to_extract"] is True and small_talk["skipped"] == 0
