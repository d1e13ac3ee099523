"""The whole Memory Passport lifecycle over HTTP, as an agent and a person live it (SPEC §5, §8)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from memoryos_server.services.runtime import Runtime
from memoryos_server.settings import Settings
from memoryos_server.storage.models import Grant
from memoryos_server.storage.types import utcnow
from tests.fixtures.factories import TenantHandle
from tests.fixtures.passport import (  # noqa: F401
    AgentHandle,
    PassportHandle,
    create_agent,
    exchange,
    from_ip,
    latest_code,
    new_agent,
    new_passport,
)

ONE_PER_CATEGORY = {
    "preference": "Please remember that I prefer short, structured explanations and Python examples.",
    "fact": "I work as a data engineer at a hospital.",
    "goal": "My goal is to run a marathon next year.",
    "relationship": "My sister Anna lives in Berlin.",
    "expertise": "I am an expert in Rust and distributed systems.",
    "procedure": "To deploy, I always run the tests first and then tag the release.",
}


def _retrieve(client: TestClient, agent: AgentHandle, uui: str, query: str = "what should I know about this person", **extra):  # type: ignore[no-untyped-def]
    response = client.post(
        "/v1/universal/memories/retrieve", json={"query": query, "limit": 20, **extra}, headers=agent.headers(uui)
    )
    assert response.status_code == 200, response.text
    return response.json()


def _add(client: TestClient, agent: AgentHandle, uui: str, *texts: str, **extra):  # type: ignore[no-untyped-def]
    return client.post(
        "/v1/universal/memories/add",
        json={"messages": [{"role": "user", "content": text} for text in texts], **extra},
        headers=agent.headers(uui),
    )


def _seed_all_categories(client: TestClient, passport: PassportHandle, writer: AgentHandle) -> None:
    granted = passport.grant(writer, list(ONE_PER_CATEGORY), "read_write")
    uui = exchange(client, writer, granted["code"])["uui_token"]
    for category, text in ONE_PER_CATEGORY.items():
        added = _add(client, writer, uui, text)
        assert added.status_code == 200, added.text
        assert [r["category"] for r in added.json()["results"]] == [category]


def _no_access(body: dict, reason: str) -> None:  # type: ignore[type-arg]
    assert body["data"] == [] and body["system_prompt_addition"] == "" and body["categories_available"] == []
    assert body["permission_error"] == reason


def test_the_full_lifecycle(
    client: TestClient, from_ip, settings: Settings, runtime: Runtime, tenant: TenantHandle, new_tenant  # type: ignore[no-untyped-def]
) -> None:
    # A tenant registers its agent; another company's agent already writes to the passport.
    agent = create_agent(tenant, name="Study Buddy", default_categories_requested=["preference", "goal"])
    writer = create_agent(new_tenant("Notes Inc"), name="Notebook")

    # A person signs in with the code from their email: the first sign-in creates the passport.
    person = from_ip()
    email = "learner-lifecycle@example.com"
    assert person.post("/v1/uui/otp/send", json={"email": email}).json()["data"]["sent"] is True
    verified = person.post("/v1/uui/otp/verify", json={"email": email, "otp": latest_code(settings.resolved_outbox_dir, email)})
    assert verified.status_code == 200
    session = verified.json()["data"]["session_token"]
    passport = PassportHandle(client, email, verified.json()["data"]["user_uui_id"], session, "")
    _seed_all_categories(client, passport, writer)

    # Read-only access to two categories, a one-time code, exchanged for the agent's UUI.
    granted = passport.grant(agent, ["preference", "goal"], "read_only")
    exchanged = exchange(client, agent, granted["code"])
    uui = exchanged["uui_token"]
    assert exchanged["grant"]["categories_allowed"] == ["preference", "goal"]

    body = _retrieve(client, agent, uui)
    categories = {m["category"] for m in body["data"]}
    assert categories == {"preference", "goal"}
    assert body["permission_error"] is None and body["categories_available"] == ["preference", "goal"]
    assert body["retrieval_id"] and body["cached"] is False and body["is_passthrough"] is False
    text = body["system_prompt_addition"]
    assert "consent" in text.lower() and "Python examples" in text and "marathon" in text
    for withheld in ("hospital", "Anna", "Rust", "tag the release"):
        assert withheld not in str(body), withheld
    assert writer.id not in str(body) and "Notebook" not in str(body)

    # Read-only: writing is refused, and nothing is stored.
    refused = _add(client, agent, uui, "I prefer tea over coffee.")
    assert refused.status_code == 403 and refused.json()["code"] == "UAT_002"
    assert refused.json()["error"] == "write_not_permitted"

    # The person allows writing: categories outside the grant are dropped and counted.
    upgraded = passport.grant(agent, ["preference", "goal"], "read_write")
    assert upgraded["replaced"] is True
    added = _add(client, agent, uui, "I prefer tea over coffee.", "I live in Paris.")
    assert added.status_code == 200, added.text
    written = added.json()
    assert written["status"] == "completed" and written["skipped"] == 1
    assert [r["category"] for r in written["results"]] == ["preference"]
    assert written["request_id"] and written["timestamp"] and written["job_id"]
    job = client.get(f"/v1/universal/memories/jobs/{written['job_id']}", headers=agent.headers(uui))
    assert job.status_code == 200
    assert job.json()["job_id"] == written["job_id"] and job.json()["status"] == "completed"
    assert set(job.json()) == {"job_id", "state", "status", "memories_created", "blocked_reason", "error", "result"}
    assert "tea" in _retrieve(client, agent, uui, "drinks tea or coffee")["system_prompt_addition"]

    # The person's activity shows who read and wrote what.
    activity = client.get("/v1/uui/me/activity", params={"limit": 200}, headers=passport.headers()).json()["data"]
    reads = [e for e in activity if e["action"] == "memories.read" and e["agent"]["id"] == agent.id]
    writes = [e for e in activity if e["action"] == "memories.write" and e["agent"]["id"] == agent.id]
    assert reads and set(reads[-1]["categories"]) <= {"preference", "goal"} and reads[-1]["memory_ids"]
    assert reads[-1]["agent"]["name"] == "Study Buddy"
    assert writes and writes[0]["categories"] == ["preference"] and writes[0]["detail"]["skipped"] == 1

    # Revoked: the very next call sees nothing, and is told why.
    grant_id = granted["id"]
    assert client.delete(f"/v1/uui/me/grants/{grant_id}", headers=passport.headers()).status_code == 200
    _no_access(_retrieve(client, agent, uui), "grant_revoked")
    assert _add(client, agent, uui, "I prefer green tea.").json()["code"] == "UAT_002"

    # Approved again for a day, then the day passes: expired.
    passport.grant(agent, ["goal"], duration_days=1)
    assert {m["category"] for m in _retrieve(client, agent, uui)["data"]} == {"goal"}
    with runtime.db.session() as db:
        db.execute(update(Grant).where(Grant.id == grant_id).values(expires_at=utcnow() - timedelta(seconds=1)))
    _no_access(_retrieve(client, agent, uui), "grant_expired")
    assert _add(client, agent, uui, "My goal is to learn Go.").json()["code"] == "UAT_002"
    assert client.get("/v1/universal/grant", headers=agent.headers(uui)).json()["data"]["status"] == "expired"


def test_requested_categories_narrow_the_grant_and_never_widen_it(client: TestClient, new_agent, new_passport) -> None:  # type: ignore[no-untyped-def]
    passport, writer, reader = new_passport(), new_agent(), new_agent()
    _seed_all_categories(client, passport, writer)
    uui = exchange(client, reader, passport.grant(reader, ["preference", "expertise"])["code"])["uui_token"]
    narrowed = _retrieve(client, reader, uui, categories=["expertise"])
    assert {m["category"] for m in narrowed["data"]} == {"expertise"}
    outside = _retrieve(client, reader, uui, "hospital job", categories=["fact", "relationship"])
    assert outside["data"] == [] and outside["system_prompt_addition"] == ""
    assert outside["permission_error"] == "categories_not_granted"
    assert "hospital" not in str(outside) and "Anna" not in str(outside)
    # A query that matches a withheld memory word for word still returns only granted ones.
    matched = _retrieve(client, reader, uui, "works as a data engineer at a hospital")
    assert {m["category"] for m in matched["data"]} <= {"preference", "expertise"}
    assert "hospital" not in matched["system_prompt_addition"]
    bad = client.post(
        "/v1/universal/memories/retrieve", json={"query": "x", "categories": ["secrets"]}, headers=reader.headers(uui)
    )
    assert bad.status_code == 422


def test_idempotent_adds_write_once(client: TestClient, new_agent, new_passport) -> None:  # type: ignore[no-untyped-def]
    agent, passport = new_agent(), new_passport()
    uui = exchange(client, agent, passport.grant(agent, ["goal"], "read_write")["code"])["uui_token"]
    first = _add(client, agent, uui, "My goal is to climb Kilimanjaro.", idempotency_key="k-1").json()
    second = _add(client, agent, uui, "My goal is to climb Kilimanjaro.", idempotency_key="k-1").json()
    assert first["job_id"] == second["job_id"] and first["results"] == second["results"]
    reused = _add(client, agent, uui, "My goal is to run a marathon.", idempotency_key="k-1")
    assert reused.status_code == 422 and reused.json()["error"] == "idempotency_key_reused"
    memories = client.get("/v1/uui/me/memories", headers=passport.headers()).json()["data"]
    assert len(memories) == 1


def test_bad_agent_bodies_are_4xx_and_change_nothing(client: TestClient, new_agent, new_passport) -> None:  # type: ignore[no-untyped-def]
    agent, passport = new_agent(), new_passport()
    uui = exchange(client, agent, passport.grant(agent, ["goal"], "read_write")["code"])["uui_token"]
    for body in (
        {"messages": []},
        {"messages": [{"role": "robot", "content": "x"}]},
        {"messages": [{"role": "user", "content": ""}]},
        {"messages": [{"role": "user", "content": "x" * 16_001}]},
        {"messages": "My goal is to win."},
    ):
        response = client.post("/v1/universal/memories/add", json=body, headers=agent.headers(uui))
        assert response.status_code == 422, body
    malformed = client.post(
        "/v1/universal/memories/add", content=b'{"messages": [', headers={**agent.headers(uui), "Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    for body in ({"query": ""}, {"query": "x", "limit": 0}, {"query": "x", "limit": 51}, {"query": "x", "format": "yaml"}):
        assert client.post("/v1/universal/memories/retrieve", json=body, headers=agent.headers(uui)).status_code == 422
    assert client.get("/v1/uui/me/memories", headers=passport.headers()).json()["data"] == []
