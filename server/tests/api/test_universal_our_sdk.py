"""Our SDK's universal client against a live server: consent exchange, user resolve, grant,
get, add and job status, and the typed errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from memoryos import WriteNotPermitted
from memoryos.universal import UniversalMemory

from tests.fixtures.app import LiveServer
from tests.fixtures.passport import connected, link_token, new_agent, new_passport  # noqa: F401


def test_the_agent_backend_flow(live_server: LiveServer, client: TestClient, new_agent, new_passport) -> None:  # type: ignore[no-untyped-def]
    agent, person = new_agent(), new_passport()
    link = link_token(agent, "customer-77")
    granted = person.grant(agent, ["preference", "goal"], "read_only", link_token=link)

    exchanged = UniversalMemory.exchange_code(granted["code"], agent_api_key=agent.key, base_url=live_server.url)
    assert exchanged.uui_token.startswith("uui_") and exchanged.grant.categories_allowed == ["preference", "goal"]
    resolved = UniversalMemory.resolve_user("customer-77", agent_api_key=agent.key, base_url=live_server.url)
    assert resolved.found and resolved.uui_token == exchanged.uui_token
    missing = UniversalMemory.resolve_user("customer-78", agent_api_key=agent.key, base_url=live_server.url)
    assert not missing.found and missing.permission_error == "not_connected"

    with UniversalMemory(agent_api_key=agent.key, uui_token=exchanged.uui_token, base_url=live_server.url) as memory:
        grant = memory.grant()
        assert grant is not None and grant.agent_id == agent.id and not grant.can_write
        with pytest.raises(WriteNotPermitted) as refused:
            memory.add(messages=[{"role": "user", "content": "I prefer tea."}])
        assert refused.value.status_code == 403 and refused.value.code == "UAT_002"
        empty = memory.get(query="How should I tailor the response?")
        assert not empty.has_context and empty.permission_status is None

    person.grant(agent, ["preference", "goal"], "read_write")
    with UniversalMemory(agent_api_key=agent.key, uui_token=exchanged.uui_token, base_url=live_server.url) as memory:
        added = memory.add(
            messages=[{"role": "user", "content": "Please remember that I prefer short, structured explanations and Python examples."}],
            metadata={"source": "learning-agent"},
        )
        assert added.status == "completed"
        job = memory.get_job_status(added.job_id)
        assert job.succeeded and job.memories_created == 1
        result = memory.get(query="How should I tailor the response?", limit=5)
        assert result.has_context and "Python examples" in result.system_prompt_addition
        assert result.categories_available == ["preference", "goal"]


def test_flagged_memories_stay_hidden_and_unconfirmed_ones_marked(live_server: LiveServer, client: TestClient, connected) -> None:  # type: ignore[no-untyped-def]
    agent, person, uui = connected(["expertise", "fact"], "read_write")
    with UniversalMemory(agent_api_key=agent.key, uui_token=uui, base_url=live_server.url) as memory:
        [kubernetes] = memory.add(messages=[{"role": "user", "content": "I have ten years of experience with Kubernetes"}]).results
        memory.add(messages=[{"role": "user", "content": "My exam is on March 10."}])
        memory.add(messages=[{"role": "user", "content": "My exam is on March 15."}])
        assert kubernetes.id in [m.id for m in memory.get(query="Kubernetes experience")]

        client.post(f"/v1/uui/me/memories/{kubernetes.id}/flag", headers=person.headers())
        hidden = memory.get(query="Kubernetes experience")
        assert kubernetes.id not in [m.id for m in hidden] and "Kubernetes" not in hidden.system_prompt_addition

        exam = memory.get(query="when is the exam")
        assert [(m.disputed, m.unconfirmed) for m in exam] == [(True, False), (True, False)]
        [question] = client.get("/v1/uui/me/clarifications", headers=person.headers()).json()["data"]
        client.post(f"/v1/uui/me/clarifications/{question['id']}/answer", json={"answer": "neither"}, headers=person.headers())
        exam = memory.get(query="when is the exam")
        assert [(m.disputed, m.unconfirmed) for m in exam] == [(False, True), (False, True)]
        assert "[unconfirmed]" in exam.system_prompt_addition

        client.delete(f"/v1/uui/me/memories/{kubernetes.id}/flag", headers=person.headers())
        assert kubernetes.id in [m.id for m in memory.get(query="Kubernetes experience")]
