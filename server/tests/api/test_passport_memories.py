"""The permission center's data: my memories, Pending Questions, activity, export, deletion."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from memoryos_server.services.runtime import Runtime
from memoryos_server.storage.models import AuditEvent, UniversalMemory, UniversalQuestion
from tests.fixtures.passport import AgentHandle, connected, new_agent, new_passport  # noqa: F401

TEXTS = [
    "Please remember that I prefer short, structured explanations and Python examples.",
    "I work as a data engineer at a hospital.",
    "My goal is to run a marathon next year.",
    "I prefer dark mode in every editor.",
]


def _write(client: TestClient, agent: AgentHandle, uui: str, *texts: str) -> list[dict]:  # type: ignore[type-arg]
    results = []
    for text in texts:
        response = client.post(
            "/v1/universal/memories/add", json={"messages": [{"role": "user", "content": text}]}, headers=agent.headers(uui)
        )
        assert response.status_code == 200, response.text
        results.extend(response.json()["results"])
    return results


def test_list_by_category_sort_and_page(client: TestClient, connected) -> None:  # type: ignore[no-untyped-def]
    agent, person, uui = connected(["preference", "fact", "goal"], "read_write")
    _write(client, agent, uui, *TEXTS)
    everything = client.get("/v1/uui/me/memories", headers=person.headers()).json()
    assert everything["pagination"]["total"] == 4
    assert [m["content"] for m in everything["data"]][0] == "Prefers dark mode in every editor"
    preferences = client.get("/v1/uui/me/memories", params={"category": "preference"}, headers=person.headers()).json()
    assert {m["category"] for m in preferences["data"]} == {"preference"} and preferences["pagination"]["total"] == 2
    oldest = client.get("/v1/uui/me/memories", params={"sort": "oldest", "limit": 3}, headers=person.headers()).json()
    assert oldest["data"][0]["content"].startswith("Prefers short") and oldest["pagination"]["next_cursor"] == "o3"
    rest = client.get(
        "/v1/uui/me/memories", params={"sort": "oldest", "limit": 3, "cursor": "o3"}, headers=person.headers()
    ).json()
    assert len(rest["data"]) == 1 and rest["pagination"]["next_cursor"] is None
    first_page = client.get("/v1/uui/me/memories", params={"limit": 2}, headers=person.headers()).json()
    second_page = client.get(
        "/v1/uui/me/memories", params={"limit": 2, "cursor": first_page["pagination"]["next_cursor"]}, headers=person.headers()
    ).json()
    ids = [m["id"] for m in first_page["data"] + second_page["data"]]
    assert len(set(ids)) == 4
    assert client.get("/v1/uui/me/memories", params={"sort": "random"}, headers=person.headers()).status_code == 422
    assert client.get("/v1/uui/me/memories", params={"category": "secrets"}, headers=person.headers()).status_code == 422
    assert client.get("/v1/uui/me/memories", params={"sort": "oldest", "cursor": "zz"}, headers=person.headers()).status_code == 400
    assert client.get("/v1/uui/me/memories").json()["code"] == "UUI_401"


def test_flag_correct_history_and_delete(client: TestClient, connected, new_passport) -> None:  # type: ignore[no-untyped-def]
    agent, person, uui = connected(["fact"], "read_write")
    memory_id = _write(client, agent, uui, "I work as a data engineer at a hospital.")[0]["id"]
    flagged = client.post(f"/v1/uui/me/memories/{memory_id}/flag", headers=person.headers())
    assert flagged.status_code == 200 and flagged.json()["data"]["flagged"] is True
    unflagged = client.delete(f"/v1/uui/me/memories/{memory_id}/flag", headers=person.headers())
    assert unflagged.json()["data"]["flagged"] is False
    corrected = client.post(
        f"/v1/uui/me/memories/{memory_id}/correct",
        json={"corrected_content": "Works as a data scientist at a hospital"},
        headers=person.headers(),
    )
    assert corrected.status_code == 200 and corrected.json()["data"]["content"] == "Works as a data scientist at a hospital"
    history = client.get(f"/v1/uui/me/memories/{memory_id}/history", headers=person.headers()).json()["data"]
    assert [v["event"] for v in history][-1] == "CORRECT"
    assert history[0]["content"] == "Works as a data engineer at a hospital"
    assert history[-1]["actor"] == f"passport_user:{person.user_uui_id}"
    # The agent reads the corrected text from now on.
    seen = client.post("/v1/universal/memories/retrieve", json={"query": "job at the hospital"}, headers=agent.headers(uui)).json()
    assert "data scientist" in seen["system_prompt_addition"] and "data engineer" not in seen["system_prompt_addition"]

    stranger = new_passport()
    for method, path in (
        ("GET", f"/v1/uui/me/memories/{memory_id}"),
        ("POST", f"/v1/uui/me/memories/{memory_id}/flag"),
        ("DELETE", f"/v1/uui/me/memories/{memory_id}"),
        ("GET", f"/v1/uui/me/memories/{memory_id}/history"),
    ):
        response = client.request(method, path, headers=stranger.headers())
        assert response.status_code == 404 and response.json()["code"] == "MEM_404", (method, path)
    wrong = client.post(
        f"/v1/uui/me/memories/{memory_id}/correct", json={"corrected_content": "Hacked"}, headers=stranger.headers()
    )
    assert wrong.status_code == 404

    assert client.delete(f"/v1/uui/me/memories/{memory_id}", headers=person.headers()).status_code == 200
    assert client.get(f"/v1/uui/me/memories/{memory_id}", headers=person.headers()).json()["code"] == "MEM_404"
    gone = client.post("/v1/universal/memories/retrieve", json={"query": "job at the hospital"}, headers=agent.headers(uui)).json()
    assert gone["data"] == []
    assert client.get(f"/v1/uui/me/memories/{uuid.uuid4()}", headers=person.headers()).json()["code"] == "MEM_404"
    assert client.get("/v1/uui/me/memories/not-a-uuid", headers=person.headers()).json()["code"] == "REQ_404"


def test_pending_questions(client: TestClient, connected) -> None:  # type: ignore[no-untyped-def]
    agent, person, uui = connected(["fact"], "read_write")
    first = _write(client, agent, uui, "My exam is on March 10.")[0]
    second = _write(client, agent, uui, "My exam is on March 15.")[0]
    assert second["event"] == "CONFLICT"
    questions = client.get("/v1/uui/me/clarifications", headers=person.headers()).json()
    assert questions["pagination"]["total"] == 1
    question = questions["data"][0]
    assert [o["answer"] for o in question["options"]] == ["A", "B", "both", "neither"]
    assert {question["memory_a"]["id"], question["memory_b"]["id"]} == {first["id"], second["id"]}
    # Until answered, the agent sees both, marked disputed.
    seen = client.post("/v1/universal/memories/retrieve", json={"query": "when is the exam"}, headers=agent.headers(uui)).json()
    assert "disputed" in seen["system_prompt_addition"]

    answered = client.post(
        f"/v1/uui/me/clarifications/{question['id']}/answer", json={"answer": "B"}, headers=person.headers()
    )
    assert answered.status_code == 200 and answered.json()["data"]["resolution"] == "B"
    assert answered.json()["data"]["archived_memory_ids"] == [first["id"]]
    again = client.post(f"/v1/uui/me/clarifications/{question['id']}/answer", json={"answer": "A"}, headers=person.headers())
    assert again.status_code == 409 and again.json()["code"] == "CLR_409"
    assert client.get("/v1/uui/me/clarifications", headers=person.headers()).json()["data"] == []
    resolved = client.get("/v1/uui/me/clarifications", params={"status": "resolved"}, headers=person.headers()).json()
    assert resolved["data"][0]["answer"] == "B"
    after = client.post("/v1/universal/memories/retrieve", json={"query": "when is the exam"}, headers=agent.headers(uui)).json()
    assert "March 15" in after["system_prompt_addition"] and "March 10" not in after["system_prompt_addition"]
    missing = client.post(f"/v1/uui/me/clarifications/{uuid.uuid4()}/answer", json={"answer": "A"}, headers=person.headers())
    assert missing.status_code == 404 and missing.json()["code"] == "CLR_404"
    invalid = client.post(f"/v1/uui/me/clarifications/{question['id']}/answer", json={"answer": "C"}, headers=person.headers())
    assert invalid.status_code == 422


def test_export_holds_everything(client: TestClient, connected) -> None:  # type: ignore[no-untyped-def]
    agent, person, uui = connected(["preference", "goal"], "read_write")
    _write(client, agent, uui, TEXTS[0], TEXTS[2])
    client.post("/v1/universal/memories/retrieve", json={"query": "marathon"}, headers=agent.headers(uui))
    export = client.get("/v1/uui/me/export", headers=person.headers())
    assert export.status_code == 200
    assert export.headers["content-disposition"].startswith("attachment;")
    data = export.json()["data"]
    assert data["user"]["email"] == person.email and data["user"]["user_uui_id"] == person.user_uui_id
    assert {m["category"] for m in data["memories"]} == {"preference", "goal"}
    assert all(m["versions"] and m["versions"][0]["event"] == "ADD" for m in data["memories"])
    assert [g["agent_id"] for g in data["grants"]] == [agent.id]
    assert {e["action"] for e in data["activity"]} >= {"grant.created", "memories.write", "memories.read"}
    assert data["pending_questions"] == [] and data["connections"] == []
    assert uui not in export.text and person.session_token not in export.text


def test_deleting_the_passport_removes_its_memories(client: TestClient, runtime: Runtime, connected) -> None:  # type: ignore[no-untyped-def]
    agent, person, uui = connected(["fact"], "read_write")
    _write(client, agent, uui, "My exam is on March 10.", "My exam is on March 15.")
    with runtime.db.session(write=False) as session:
        owner_id = session.execute(
            select(UniversalMemory.owner_id).where(UniversalMemory.agent_id == agent.id).limit(1)
        ).scalar_one()
    assert client.delete("/v1/uui/me", headers=person.headers()).status_code == 200
    with runtime.db.session(write=False) as session:
        for model, column in (
            (UniversalMemory, UniversalMemory.owner_id),
            (UniversalQuestion, UniversalQuestion.owner_id),
            (AuditEvent, AuditEvent.universal_user_id),
        ):
            count = session.execute(select(func.count()).select_from(model).where(column == owner_id)).scalar_one()
            assert count == 0, model.__tablename__


def test_a_correction_with_no_visible_text_is_refused(client: TestClient, connected) -> None:  # type: ignore[no-untyped-def]
    agent, person, uui = connected(["fact"], "read_write")
    memory_id = _write(client, agent, uui, "I work as a data engineer at a hospital.")[0]["id"]
    refused = client.post(f"/v1/uui/me/memories/{memory_id}/correct", json={"corrected_content": "\u200b\u200b"}, headers=person.headers())
    assert refused.status_code == 400 and refused.json()["error"] == "empty_correction", refused.text
    history = client.get(f"/v1/uui/me/memories/{memory_id}/history", headers=person.headers()).json()["data"]
    assert len(history) == 1  # nothing was written
