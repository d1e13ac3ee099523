"""SPEC §8 attacks on the agent side: borrowed, rotated or dead credentials, other agents'
jobs and grants, and the tenant API reaching for universal memory."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.fixtures.passport import connected, new_agent, new_passport  # noqa: F401

QUERY = {"query": "what does this person prefer", "limit": 10}
ADD = {"messages": [{"role": "user", "content": "I prefer window seats on trains."}]}


def _calls(client: TestClient, headers: dict[str, str], job_id: str = "job_unknown") -> list:  # type: ignore[type-arg]
    return [
        client.post("/v1/universal/memories/retrieve", json=QUERY, headers=headers),
        client.post("/v1/universal/memories/add", json=ADD, headers=headers),
        client.get("/v1/universal/grant", headers=headers),
        client.get(f"/v1/universal/memories/jobs/{job_id}", headers=headers),
    ]


def _all_refused(responses: list) -> None:  # type: ignore[type-arg]
    for response in responses:
        assert response.status_code == 403, response.text
        body = response.json()
        assert (body["error"], body["code"], body["details"]) == ("cross_agent_auth_failed", "UAT_001", None)


def test_borrowed_uuis_fail_both_ways(client: TestClient, connected, new_agent, new_passport) -> None:  # type: ignore[no-untyped-def]
    person = new_passport()
    a, _, uui_a = connected(["preference"], "read_write", passport=person)
    b, _, uui_b = connected(["preference"], "read_write", passport=person, agent=new_agent())
    _all_refused(_calls(client, b.headers(uui_a)))  # agent B with agent A's UUI
    _all_refused(_calls(client, a.headers(uui_b)))  # A's key with B's UUI for the same person
    _all_refused(_calls(client, {"X-MemoryOS-UUI": uui_a}))  # no key
    _all_refused(_calls(client, {"Authorization": f"ApiKey {a.key}"}))  # no UUI
    _all_refused(_calls(client, {"Authorization": f"Bearer {a.key}", "X-MemoryOS-UUI": uui_a}))
    _all_refused(_calls(client, {"Authorization": f"ApiKey {a.tenant.api_key}", "X-MemoryOS-UUI": uui_a}))


def test_borrowed_uuis_fail_both_ways_across_tenants(client: TestClient, connected, new_agent, new_passport, new_tenant) -> None:  # type: ignore[no-untyped-def]
    """Two agents of two organisations serve the same person; neither can use the other's UUI,
    and the refusal says nothing about the other agent, its organisation or the person."""
    person = new_passport()
    home, abroad = new_tenant("Home Org"), new_tenant("Abroad Org")
    a, _, uui_a = connected(["preference"], "read_write", passport=person, agent=new_agent(home, name="Home Helper"))
    b, _, uui_b = connected(["preference"], "read_write", passport=person, agent=new_agent(abroad, name="Abroad Helper"))
    assert client.post("/v1/universal/memories/add", json=ADD, headers=a.headers(uui_a)).status_code == 200
    before = client.get("/v1/uui/me/memories", headers=person.headers()).json()["data"]

    made_up = _calls(client, b.headers("uui_" + "q" * 43))
    for attempt in (_calls(client, b.headers(uui_a)), _calls(client, a.headers(uui_b))):
        _all_refused(attempt)
        for response, baseline in zip(attempt, made_up, strict=True):
            # Exactly what a made-up UUI gets, but for the request id and the time.
            varying = {"request_id": "", "timestamp": ""}
            assert {**response.json(), **varying} == {**baseline.json(), **varying}
            for secret in (a.id, b.id, "Home Helper", "Abroad Helper", home.tenant_id, abroad.tenant_id,
                           person.email, person.user_uui_id, uui_a, uui_b, "window seats"):
                assert secret not in response.text, secret
    # The refused adds wrote nothing.
    assert client.get("/v1/uui/me/memories", headers=person.headers()).json()["data"] == before
    # Each still works with its own UUI, and sees only what its own grant allows.
    assert client.post("/v1/universal/memories/retrieve", json=QUERY, headers=b.headers(uui_b)).status_code == 200


def test_rotated_key_deleted_agent_and_deleted_passport(client: TestClient, connected) -> None:  # type: ignore[no-untyped-def]
    rotated, _, uui_r = connected(["goal"])
    client.post(f"/v1/agents/global/{rotated.id}/rotate-key", headers=rotated.tenant.key_headers())
    _all_refused(_calls(client, rotated.headers(uui_r)))

    deleted, _, uui_d = connected(["goal"])
    client.delete(f"/v1/agents/global/{deleted.id}", headers=deleted.tenant.key_headers())
    _all_refused(_calls(client, deleted.headers(uui_d)))

    agent, person, uui = connected(["goal"])
    client.delete("/v1/uui/me", headers=person.headers())
    _all_refused(_calls(client, agent.headers(uui)))


def test_another_agents_job_is_not_found(client: TestClient, connected, new_agent, new_passport) -> None:  # type: ignore[no-untyped-def]
    person = new_passport()
    a, _, uui_a = connected(["preference"], "read_write", passport=person)
    b, _, uui_b = connected(["preference"], "read_write", passport=person, agent=new_agent())
    job_id = client.post("/v1/universal/memories/add", json=ADD, headers=a.headers(uui_a)).json()["job_id"]
    assert client.get(f"/v1/universal/memories/jobs/{job_id}", headers=a.headers(uui_a)).status_code == 200
    foreign = client.get(f"/v1/universal/memories/jobs/{job_id}", headers=b.headers(uui_b))
    assert foreign.status_code == 404 and foreign.json()["code"] == "JOB_404"
    assert "window seats" not in foreign.text


def test_responses_never_mention_other_agents(client: TestClient, connected, new_agent, new_passport) -> None:  # type: ignore[no-untyped-def]
    person = new_passport()
    other = new_agent(name="Secret Rival Agent")
    _, _, other_uui = connected(["preference", "fact", "goal"], "read_write", passport=person, agent=other)
    assert client.post("/v1/universal/memories/add", json=ADD, headers=other.headers(other_uui)).status_code == 200
    a, _, uui = connected(["preference"], "read_only", passport=person)
    bodies = [r.text for r in _calls(client, a.headers(uui))]
    bodies.append(client.post("/v1/universal/users/resolve", json={"external_user_id": "x"}, headers=a.headers()).text)
    for text in bodies:
        assert other.id not in text and "Secret Rival Agent" not in text
        assert other.key not in text


def test_the_tenant_api_cannot_reach_universal_memories(client: TestClient, connected) -> None:  # type: ignore[no-untyped-def]
    agent, person, uui = connected(["preference"], "read_write")
    added = client.post("/v1/universal/memories/add", json=ADD, headers=agent.headers(uui)).json()
    memory_id = added["results"][0]["id"]
    tenant = agent.tenant
    headers = tenant.key_headers(end_user=person.email)
    assert client.get(f"/v1/memories/{memory_id}", headers=headers).status_code == 404
    assert client.delete(f"/v1/memories/{memory_id}", headers=headers).status_code == 404
    found = client.post("/v1/memories/retrieve", json={"query": "window seats on trains"}, headers=headers).json()
    assert found["data"] == [] and "window" not in found["system_prompt_addition"]
    # …and the memory is still there for its owner.
    assert client.get(f"/v1/uui/me/memories/{memory_id}", headers=person.headers()).status_code == 200
