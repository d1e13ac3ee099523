"""Grants, consent codes and pairwise UUIs (SPEC §4, §5, §8)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from memoryos_server.services.runtime import Runtime
from memoryos_server.settings import Settings
from memoryos_server.storage.models import ConsentCode, PairwiseIdentity
from memoryos_server.storage.types import utcnow
from tests.fixtures.passport import (  # noqa: F401
    connected,
    exchange,
    new_agent,
    new_passport,
    outbox_messages,
)


def test_create_returns_the_grant_and_a_one_time_code(client: TestClient, new_agent, new_passport, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    agent, passport = new_agent(), new_passport()
    data = passport.grant(agent, ["preference", "goal"], duration_days=30)
    assert data["id"].startswith("grt_") and data["agent_id"] == agent.id
    assert data["categories_allowed"] == ["preference", "goal"]
    assert data["access_type"] == "read_only" and data["status"] == "active" and data["replaced"] is False
    expires = datetime.fromisoformat(data["expires_at"])
    assert timedelta(days=29, hours=23) < expires - datetime.now(UTC) <= timedelta(days=30)
    assert data["code"].startswith("mcc_") and data["code_expires_in_seconds"] == 600
    assert data["agent"]["name"] == agent.body["name"]

    notification = outbox_messages(settings.resolved_outbox_dir, passport.email)[-1]
    text = notification.get_content()
    assert agent.body["name"] in str(notification["Subject"])
    assert f"{settings.resolved_consent_base_url}/manage" in text and "preference, goal" in text

    exchanged = exchange(client, agent, data["code"])
    assert exchanged["uui_token"].startswith("uui_")
    assert exchanged["grant"] | {"id": None} == {
        "id": None,
        "categories_allowed": ["preference", "goal"],
        "access_type": "read_only",
        "expires_at": data["expires_at"],
    }
    reused = client.post("/v1/universal/consent/exchange", json={"code": data["code"]}, headers=agent.headers())
    assert reused.status_code == 400 and reused.json()["code"] == "REQ_400"


def test_creating_again_replaces_the_grant(client: TestClient, new_agent, new_passport) -> None:  # type: ignore[no-untyped-def]
    agent, passport = new_agent(), new_passport()
    first = passport.grant(agent, ["fact"])
    second = passport.grant(agent, ["goal", "expertise"], "read_write")
    assert second["id"] == first["id"] and second["replaced"] is True
    listed = client.get("/v1/uui/me/grants", headers=passport.headers()).json()["data"]
    assert len(listed) == 1 and listed[0]["categories_allowed"] == ["goal", "expertise"]
    assert listed[0]["access_type"] == "read_write"
    # The first code was replaced by the second.
    stale = client.post("/v1/universal/consent/exchange", json={"code": first["code"]}, headers=agent.headers())
    assert stale.status_code == 400
    assert exchange(client, agent, second["code"])["grant"]["categories_allowed"] == ["goal", "expertise"]


def test_one_uui_per_user_and_agent_and_they_cannot_be_linked(client: TestClient, connected, new_agent, new_passport) -> None:  # type: ignore[no-untyped-def]
    passport = new_passport()
    a, _, uui_a = connected(["fact"], passport=passport)
    b, _, uui_b = connected(["fact"], passport=passport, agent=new_agent())
    assert uui_a != uui_b
    # The same pair always gets the same token back.
    again = client.post(f"/v1/uui/me/grants/{passport.grant(a, ['fact'])['id']}/code", headers=passport.headers())
    assert exchange(client, a, again.json()["data"]["code"])["uui_token"] == uui_a
    # Agent B with A's UUI, and A's UUI with B's key: the same bare refusal.
    for headers in (b.headers(uui_a), a.headers(uui_b), a.headers("uui_made_up"), a.headers(""), a.headers(uui_a + "x")):
        refused = client.get("/v1/universal/grant", headers=headers)
        assert refused.status_code == 403, headers
        assert refused.json()["error"] == "cross_agent_auth_failed" and refused.json()["code"] == "UAT_001"
        assert refused.json()["details"] is None
    assert client.get("/v1/universal/grant", headers={"X-MemoryOS-UUI": uui_a}).json()["code"] == "UAT_001"
    tenant_key = {"Authorization": f"ApiKey {a.tenant.api_key}", "X-MemoryOS-UUI": uui_a}
    assert client.get("/v1/universal/grant", headers=tenant_key).json()["code"] == "UAT_001"


def test_an_agent_sees_only_its_own_grant(client: TestClient, connected, new_agent, new_passport) -> None:  # type: ignore[no-untyped-def]
    passport = new_passport()
    a, _, uui_a = connected(["fact", "goal"], passport=passport)
    b, _, _ = connected(["relationship"], "read_write", passport=passport, agent=new_agent())
    response = client.get("/v1/universal/grant", headers=a.headers(uui_a))
    assert response.status_code == 200
    grant = response.json()["data"]
    assert grant["agent_id"] == a.id and grant["categories_allowed"] == ["fact", "goal"]
    assert grant["status"] == "active" and grant["access_type"] == "read_only"
    assert b.id not in response.text and "relationship" not in response.text


def test_patch_revoke_and_fresh_codes(client: TestClient, connected) -> None:  # type: ignore[no-untyped-def]
    agent, passport, uui = connected(["fact"])
    grant_id = client.get("/v1/uui/me/grants", headers=passport.headers()).json()["data"][0]["id"]
    until = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    patched = client.patch(
        f"/v1/uui/me/grants/{grant_id}",
        json={"categories_allowed": ["fact", "procedure"], "access_type": "read_write", "expires_at": until},
        headers=passport.headers(),
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["data"]["categories_allowed"] == ["fact", "procedure"]
    seen = client.get("/v1/universal/grant", headers=agent.headers(uui)).json()["data"]
    assert seen["categories_allowed"] == ["fact", "procedure"] and seen["access_type"] == "read_write"
    forever = client.patch(f"/v1/uui/me/grants/{grant_id}", json={"expires_at": None}, headers=passport.headers())
    assert forever.json()["data"]["expires_at"] is None

    code = client.post(f"/v1/uui/me/grants/{grant_id}/code", headers=passport.headers()).json()["data"]["code"]
    revoked = client.delete(f"/v1/uui/me/grants/{grant_id}", headers=passport.headers())
    assert revoked.status_code == 200 and revoked.json()["data"]["status"] == "revoked"
    # Revoking retires the unused code, and a revoked grant is neither edited nor re-coded.
    assert client.post("/v1/universal/consent/exchange", json={"code": code}, headers=agent.headers()).status_code == 400
    assert client.post(f"/v1/uui/me/grants/{grant_id}/code", headers=passport.headers()).json()["code"] == "GNT_409"
    assert client.patch(f"/v1/uui/me/grants/{grant_id}", json={"access_type": "read_only"}, headers=passport.headers()).json()["code"] == "GNT_409"
    state = client.get("/v1/universal/grant", headers=agent.headers(uui)).json()["data"]
    assert state["status"] == "revoked" and state["categories_allowed"] == []
    # Approving again replaces the revoked grant.
    assert passport.grant(agent, ["goal"])["status"] == "active"


def test_grant_input_is_checked(client: TestClient, new_agent, new_passport) -> None:  # type: ignore[no-untyped-def]
    agent, passport = new_agent(), new_passport()
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    for body in (
        {"agent_id": agent.id, "categories_allowed": ["secrets"]},
        {"agent_id": agent.id, "categories_allowed": []},
        {"agent_id": agent.id, "categories_allowed": ["fact"], "access_type": "admin"},
        {"agent_id": agent.id, "categories_allowed": ["fact"], "expires_at": past},
        {"agent_id": agent.id, "categories_allowed": ["fact"], "expires_at": future, "duration_days": 3},
        {"agent_id": agent.id, "categories_allowed": ["fact"], "duration_days": 0},
        {"agent_id": agent.id, "categories_allowed": "fact"},
        {"categories_allowed": ["fact"]},
    ):
        response = client.post("/v1/uui/me/grants", json=body, headers=passport.headers())
        assert response.status_code == 422, (body, response.text)
    for agent_id in (str(uuid.uuid4()), "nope"):
        missing = client.post("/v1/uui/me/grants", json={"agent_id": agent_id, "categories_allowed": ["fact"]}, headers=passport.headers())
        assert missing.status_code == 404 and missing.json()["code"] == "AGN_404"
    assert client.get("/v1/uui/me/grants", headers=passport.headers()).json()["data"] == []
    assert client.post("/v1/uui/me/grants", json={"agent_id": agent.id, "categories_allowed": ["fact"]}).json()["code"] == "UUI_401"


def test_another_users_grant_is_not_found(client: TestClient, connected, new_passport) -> None:  # type: ignore[no-untyped-def]
    _, owner, _ = connected(["fact"])
    grant_id = client.get("/v1/uui/me/grants", headers=owner.headers()).json()["data"][0]["id"]
    intruder = new_passport()
    for method, path in (
        ("PATCH", f"/v1/uui/me/grants/{grant_id}"),
        ("DELETE", f"/v1/uui/me/grants/{grant_id}"),
        ("POST", f"/v1/uui/me/grants/{grant_id}/code"),
    ):
        response = client.request(method, path, json={"access_type": "read_write"} if method == "PATCH" else None, headers=intruder.headers())
        assert response.status_code == 404 and response.json()["code"] == "GNT_404"
    assert client.get("/v1/uui/me/grants", headers=owner.headers()).json()["data"][0]["status"] == "active"


def test_codes_are_bound_to_their_agent_and_expire(client: TestClient, runtime: Runtime, new_agent, new_passport) -> None:  # type: ignore[no-untyped-def]
    agent, other, passport = new_agent(), new_agent(), new_passport()
    code = passport.grant(agent, ["fact"])["code"]
    stolen = client.post("/v1/universal/consent/exchange", json={"code": code}, headers=other.headers())
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_consent_code"
    # The wrong agent's attempt did not burn the code for the right one.
    assert exchange(client, agent, code)["uui_token"].startswith("uui_")

    late = passport.grant(agent, ["goal"])["code"]
    with runtime.db.session() as session:
        session.execute(
            update(ConsentCode)
            .where(ConsentCode.code_hash == runtime.hasher.hash(late, purpose="consent_code"))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert client.post("/v1/universal/consent/exchange", json={"code": late}, headers=agent.headers()).status_code == 400
    assert client.post("/v1/universal/consent/exchange", json={"code": late}).json()["code"] == "UAT_001"


def test_uuis_and_codes_are_stored_only_as_hashes(client: TestClient, runtime: Runtime, connected) -> None:  # type: ignore[no-untyped-def]
    agent, passport, uui = connected(["fact"])
    with runtime.db.session(write=False) as session:
        token_hashes = session.execute(select(PairwiseIdentity.token_hash)).scalars().all()
        code_hashes = session.execute(select(ConsentCode.code_hash)).scalars().all()
    assert uui not in token_hashes and runtime.hasher.hash(uui, purpose="uui") in token_hashes
    assert all(not value.startswith("mcc_") for value in code_hashes)


def test_grant_changes_are_in_the_users_activity(client: TestClient, connected, new_passport) -> None:  # type: ignore[no-untyped-def]
    agent, passport, _ = connected(["fact", "goal"])
    grant_id = client.get("/v1/uui/me/grants", headers=passport.headers()).json()["data"][0]["id"]
    client.delete(f"/v1/uui/me/grants/{grant_id}", headers=passport.headers())
    activity = client.get("/v1/uui/me/activity", headers=passport.headers())
    assert activity.status_code == 200
    events = activity.json()["data"]
    actions = [event["action"] for event in events]
    assert actions[:3] == ["grant.revoked", "consent.exchanged", "grant.created"]
    assert all(event["agent"] == {"id": agent.id, "name": agent.body["name"]} for event in events)
    assert events[-1]["categories"] == ["fact", "goal"]
    assert new_passport().email not in activity.text
    assert client.get("/v1/uui/me/activity", headers=new_passport().headers()).json()["data"] == []
    paged = client.get("/v1/uui/me/activity", params={"limit": 1}, headers=passport.headers()).json()
    assert len(paged["data"]) == 1 and paged["pagination"]["next_cursor"] and paged["pagination"]["total"] == 3
    rest = client.get(
        "/v1/uui/me/activity", params={"limit": 5, "cursor": paged["pagination"]["next_cursor"]}, headers=passport.headers()
    ).json()["data"]
    assert [event["action"] for event in rest] == ["consent.exchanged", "grant.created"]
