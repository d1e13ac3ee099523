"""Secure-link connectors, organisation connections and user resolve (SPEC §5, §8)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from memoryos_server.services.runtime import Runtime
from memoryos_server.storage.models import LinkToken, OrgConnection
from memoryos_server.storage.types import utcnow
from tests.fixtures.factories import TenantHandle
from tests.fixtures.passport import AgentHandle, connected, exchange, link_token, new_agent, new_passport  # noqa: F401


def _link(client: TestClient, agent: AgentHandle, account: str, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """The route's raw answer, for the test of the route itself; the others use ``link_token``."""
    return client.post(
        "/v1/tenant/memory-passport/link-token",
        json={"agent_id": agent.id, "external_user_id": account},
        headers=agent.tenant.key_headers() if headers is None else headers,
    )


def test_link_token_shape_and_who_may_make_one(client: TestClient, tenant: TenantHandle, new_agent, new_tenant) -> None:  # type: ignore[no-untyped-def]
    agent = new_agent()
    response = _link(client, agent, "customer-1")
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["link_token"].startswith("plink_") and data["expires_in_seconds"] == 900
    assert _link(client, agent, "customer-1", tenant.add_member("developer").headers()).status_code == 200
    viewer = _link(client, agent, "customer-1", tenant.add_member("viewer").headers())
    assert viewer.status_code == 403 and viewer.json()["code"] == "AUTH_003"
    assert _link(client, agent, "customer-1", {}).json()["code"] == "AUTH_001"
    other = new_tenant("Other")
    foreign = _link(client, agent, "customer-1", other.key_headers())
    assert foreign.status_code == 404 and foreign.json()["code"] == "AGN_404"
    unknown = client.post(
        "/v1/tenant/memory-passport/link-token",
        json={"agent_id": str(uuid.uuid4()), "external_user_id": "c"},
        headers=tenant.key_headers(),
    )
    assert unknown.json()["code"] == "AGN_404"
    assert client.post(
        "/v1/tenant/memory-passport/link-token", json={"agent_id": agent.id}, headers=tenant.key_headers()
    ).status_code == 422


def test_a_link_connects_once_and_resolve_then_finds_the_user(client: TestClient, runtime: Runtime, new_agent, new_passport) -> None:  # type: ignore[no-untyped-def]
    agent, passport = new_agent(), new_passport()
    account = f"acct-{uuid.uuid4().hex[:8]}"
    resolve = lambda: client.post(  # noqa: E731
        "/v1/universal/users/resolve", json={"external_user_id": account}, headers=agent.headers()
    ).json()["data"]
    assert resolve() == {"uui_token": None, "permission_error": "not_connected"}

    link = link_token(agent, account)
    granted = passport.grant(agent, ["preference"], link_token=link)
    connections = client.get("/v1/uui/me/connections", headers=passport.headers()).json()["data"]
    assert len(connections) == 1
    assert connections[0]["method"] == "secure_link" and connections[0]["organisation_name"] == "Acme"
    assert connections[0]["id"].startswith("con_")

    uui = exchange(client, agent, granted["code"])["uui_token"]
    assert resolve() == {"uui_token": uui, "permission_error": None}

    used = client.post(
        "/v1/uui/me/grants",
        json={"agent_id": agent.id, "categories_allowed": ["goal"], "link_token": link},
        headers=passport.headers(),
    )
    assert used.status_code == 410 and used.json()["code"] == "PLINK_410"
    # The failed call changed nothing: the grant still has its first categories.
    assert client.get("/v1/uui/me/grants", headers=passport.headers()).json()["data"][0]["categories_allowed"] == ["preference"]

    grant_id = granted["id"]
    client.delete(f"/v1/uui/me/grants/{grant_id}", headers=passport.headers())
    assert resolve() == {"uui_token": None, "permission_error": "grant_revoked"}

    with runtime.db.session(write=False) as session:
        hashes = session.execute(select(LinkToken.account_hash)).scalars().all()
        hashes += session.execute(select(OrgConnection.account_hash)).scalars().all()
    assert account not in hashes and all(account not in value for value in hashes)


def test_a_connection_alone_grants_nothing(client: TestClient, new_agent, new_passport) -> None:  # type: ignore[no-untyped-def]
    agent, passport = new_agent(), new_passport()
    other = new_agent()
    link = link_token(agent, "acct-only-connected")
    passport.grant(other, ["fact"], link_token=None)
    # Connect through a grant to another agent of the same tenant? The link is bound to `agent`.
    refused = client.post(
        "/v1/uui/me/grants",
        json={"agent_id": other.id, "categories_allowed": ["fact"], "link_token": link},
        headers=passport.headers(),
    )
    assert refused.status_code == 403 and refused.json()["code"] == "PLINK_403"
    passport_grant = passport.grant(agent, ["fact"], link_token=link)
    client.delete(f"/v1/uui/me/grants/{passport_grant['id']}", headers=passport.headers())
    resolved = client.post(
        "/v1/universal/users/resolve", json={"external_user_id": "acct-only-connected"}, headers=agent.headers()
    ).json()["data"]
    assert resolved["uui_token"] is None
    # Another agent of the same tenant, never granted: connected account, but no grant.
    third = new_agent()
    resolved = client.post(
        "/v1/universal/users/resolve", json={"external_user_id": "acct-only-connected"}, headers=third.headers()
    ).json()["data"]
    assert resolved == {"uui_token": None, "permission_error": "no_grant_for_user"}


def test_expired_links_are_gone(client: TestClient, runtime: Runtime, new_agent, new_passport) -> None:  # type: ignore[no-untyped-def]
    agent, passport = new_agent(), new_passport()
    link = link_token(agent, "acct-late")
    with runtime.db.session() as session:
        session.execute(
            update(LinkToken)
            .where(LinkToken.token_hash == runtime.hasher.hash(link, purpose="link_token"))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    response = client.post(
        "/v1/uui/me/grants",
        json={"agent_id": agent.id, "categories_allowed": ["fact"], "link_token": link},
        headers=passport.headers(),
    )
    assert response.status_code == 410 and response.json()["code"] == "PLINK_410"
    assert client.get("/v1/uui/me/grants", headers=passport.headers()).json()["data"] == []
    made_up = client.post(
        "/v1/uui/me/grants",
        json={"agent_id": agent.id, "categories_allowed": ["fact"], "link_token": "plink_made_up"},
        headers=passport.headers(),
    )
    assert made_up.status_code == 410


def test_resolve_is_scoped_to_the_agents_own_tenant(client: TestClient, new_tenant, new_passport) -> None:  # type: ignore[no-untyped-def]
    from tests.fixtures.passport import create_agent

    a, b = new_tenant("A"), new_tenant("B")
    agent_a, agent_b = create_agent(a), create_agent(b)
    passport = new_passport()
    link = link_token(agent_a, "shared-id")
    passport.grant(agent_a, ["fact"], link_token=link)
    passport.grant(agent_b, ["fact"])
    # Tenant B uses the same account id: it is a different account, never connected at B.
    resolved = client.post(
        "/v1/universal/users/resolve", json={"external_user_id": "shared-id"}, headers=agent_b.headers()
    ).json()["data"]
    assert resolved == {"uui_token": None, "permission_error": "not_connected"}


def test_disconnecting(client: TestClient, new_agent, new_passport) -> None:  # type: ignore[no-untyped-def]
    agent, passport, intruder = new_agent(), new_passport(), new_passport()
    link = link_token(agent, "acct-disconnect")
    passport.grant(agent, ["fact"], link_token=link)
    connection_id = client.get("/v1/uui/me/connections", headers=passport.headers()).json()["data"][0]["id"]
    stranger = client.delete(f"/v1/uui/me/connections/{connection_id}", headers=intruder.headers())
    assert stranger.status_code == 404 and stranger.json()["code"] == "ORG_CONN_404"
    assert client.delete(f"/v1/uui/me/connections/{connection_id}", headers=passport.headers()).status_code == 200
    assert client.get("/v1/uui/me/connections", headers=passport.headers()).json()["data"] == []
    again = client.delete(f"/v1/uui/me/connections/{connection_id}", headers=passport.headers())
    assert again.json()["code"] == "ORG_CONN_404"
    resolved = client.post(
        "/v1/universal/users/resolve", json={"external_user_id": "acct-disconnect"}, headers=agent.headers()
    ).json()["data"]
    assert resolved["uui_token"] is None
