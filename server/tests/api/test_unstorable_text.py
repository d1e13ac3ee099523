"""SPEC §8: text no database can store (NUL, unpaired surrogates) is a 4xx that changes nothing.

PostgreSQL refuses NUL in text columns and no driver can encode an unpaired surrogate as UTF-8;
both used to surface as 500s half-way through a request. Every place a request carries text is
tried here: JSON bodies (nested metadata too), form fields, Basic credentials, paths, query
strings and headers, on the tenant, workspace, passport-user, agent and universal routes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from memoryos_server.services.runtime import Runtime
from memoryos_server.settings import Settings
from memoryos_server.storage.models import Base
from tests.fixtures.factories import PASSWORD, TenantHandle, create_tenant
from tests.fixtures.passport import AgentHandle, PassportHandle, create_agent, exchange, sign_in

NUL = "\x00"


@dataclass
class World:
    client: TestClient
    tenant: TenantHandle
    oauth_client_id: str
    oauth_secret: str
    agent: AgentHandle
    passport: PassportHandle
    uui: str


@pytest.fixture(scope="module")
def world(app: FastAPI, client: TestClient, settings: Settings) -> World:
    tenant = create_tenant(client, "Unstorable")
    created = client.post("/v1/tenant/oauth-clients", json={"name": "svc"}, headers=tenant.jwt_headers()).json()["data"]
    agent = create_agent(tenant)
    passport = sign_in(app, client, settings)
    granted = passport.grant(agent, ["fact", "preference"], "read_write")
    uui = exchange(client, agent, granted["code"])["uui_token"]
    return World(client, tenant, created["client_id"], created["client_secret"], agent, passport, uui)


def _messages(content: str = "I prefer tea over coffee.") -> list[dict[str, str]]:
    return [{"role": "user", "content": content}]


def _raw_json(world: World, method: str, path: str, text: str, headers: dict[str, str]) -> httpx.Response:
    """A JSON body written by hand: json.dumps would not let a lone surrogate through as-is."""
    return world.client.request(method, path, content=text.encode(), headers={**headers, "Content-Type": "application/json"})


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


Case = Callable[[World], httpx.Response]

CASES: dict[str, Case] = {
    # identity and tenant administration
    "signup organization_name": lambda w: w.client.post(
        "/v1/auth/signup", json={"email": "nul-org@example.com", "password": PASSWORD, "organization_name": f"Ac{NUL}me"}
    ),
    "signup email": lambda w: w.client.post(
        "/v1/auth/signup", json={"email": f"nul{NUL}@example.com", "password": PASSWORD, "organization_name": "Acme"}
    ),
    "login tenant_id": lambda w: w.client.post(
        "/v1/auth/login", json={"email": w.tenant.owner_email, "password": PASSWORD, "tenant_id": f"ten_{NUL}"}
    ),
    "api-key name": lambda w: w.client.post("/v1/tenant/api-keys", json={"name": f"k{NUL}"}, headers=w.tenant.jwt_headers()),
    "oauth-client name": lambda w: w.client.post(
        "/v1/tenant/oauth-clients", json={"name": f"c{NUL}"}, headers=w.tenant.jwt_headers()
    ),
    "api-key id in path": lambda w: w.client.delete("/v1/tenant/api-keys/key_%00x", headers=w.tenant.jwt_headers()),
    "oauth-client id in path": lambda w: w.client.delete("/v1/tenant/oauth-clients/cli_%00", headers=w.tenant.jwt_headers()),
    "member id in path": lambda w: w.client.delete("/v1/tenant/members/usr_%00", headers=w.tenant.jwt_headers()),
    "member patch id in path": lambda w: w.client.patch(
        "/v1/tenant/members/usr_%00", json={"role": "viewer"}, headers=w.tenant.jwt_headers()
    ),
    "member email": lambda w: w.client.post(
        "/v1/tenant/members", json={"email": f"m{NUL}@example.com", "role": "viewer"},
        headers=w.tenant.jwt_headers(),
    ),
    "oauth token form client_id": lambda w: w.client.post(
        "/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": f"cli_{NUL}", "client_secret": "x"}
    ),
    "oauth token form secret": lambda w: w.client.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": w.oauth_client_id, "client_secret": f"{w.oauth_secret}{NUL}"},
    ),
    "oauth token basic": lambda w: w.client.post(
        "/v1/oauth/token", data={"grant_type": "client_credentials"}, headers=_basic("cli_%00", "secret")
    ),
    "end-user id in path": lambda w: w.client.get("/v1/users/a%00b", headers=w.tenant.key_headers()),
    "end-user delete in path": lambda w: w.client.delete("/v1/users/a%00b", headers=w.tenant.key_headers()),
    # tenant memory
    "add agent_id": lambda w: w.client.post(
        "/v1/memories/add", json={"messages": _messages(), "agent_id": f"a{NUL}"}, headers=w.tenant.key_headers("nul-user")
    ),
    "add conversation_id": lambda w: w.client.post(
        "/v1/memories/add", json={"messages": _messages(), "conversation_id": f"c{NUL}"},
        headers=w.tenant.key_headers("nul-user"),
    ),
    "add external_user_id": lambda w: w.client.post(
        "/v1/memories/add", json={"messages": _messages(), "external_user_id": f"u{NUL}"}, headers=w.tenant.key_headers()
    ),
    "add message content": lambda w: w.client.post(
        "/v1/memories/add", json={"messages": _messages(f"I prefer tea{NUL} over coffee.")},
        headers=w.tenant.key_headers("nul-user"),
    ),
    "add verbatim content": lambda w: w.client.post(
        "/v1/memories/add", json={"messages": _messages(f"Lives in Oslo{NUL}"), "infer": False},
        headers=w.tenant.key_headers("nul-user"),
    ),
    "add metadata value": lambda w: w.client.post(
        "/v1/memories/add", json={"messages": _messages(), "metadata": {"source": f"chat{NUL}"}},
        headers=w.tenant.key_headers("nul-user"),
    ),
    "add metadata key": lambda w: w.client.post(
        "/v1/memories/add", json={"messages": _messages(), "metadata": {f"k{NUL}": "v"}},
        headers=w.tenant.key_headers("nul-user"),
    ),
    "add nested metadata": lambda w: w.client.post(
        "/v1/memories/add", json={"messages": _messages(), "metadata": {"tags": [{"deep": [f"x{NUL}"]}]}},
        headers=w.tenant.key_headers("nul-user"),
    ),
    "add source": lambda w: w.client.post(
        "/v1/memories/add", json={"messages": _messages(), "source": {"app": f"x{NUL}"}},
        headers=w.tenant.key_headers("nul-user"),
    ),
    "add lone surrogate": lambda w: _raw_json(
        w, "POST", "/v1/memories/add",
        '{"messages": [{"role": "user", "content": "I prefer tea \\ud800 over coffee."}], "infer": false}',
        w.tenant.key_headers("nul-user"),
    ),
    "add X-End-User-ID header": lambda w: w.client.post(
        "/v1/memories/add", json={"messages": _messages()}, headers=w.tenant.key_headers(f"nul{NUL}user")
    ),
    "add Idempotency-Key header": lambda w: w.client.post(
        "/v1/memories/add", json={"messages": _messages()},
        headers={**w.tenant.key_headers("nul-user"), "Idempotency-Key": f"k{NUL}"},
    ),
    "retrieve query": lambda w: w.client.post(
        "/v1/memories/retrieve", json={"query": f"tea{NUL}"}, headers=w.tenant.key_headers("nul-user")
    ),
    "list external_user_id query": lambda w: w.client.get(
        "/v1/memories?external_user_id=a%00b", headers=w.tenant.key_headers()
    ),
    "list cursor query": lambda w: w.client.get("/v1/memories?cursor=%00", headers=w.tenant.key_headers("nul-user")),
    "job id in path": lambda w: w.client.get("/v1/memories/jobs/job_%00", headers=w.tenant.key_headers("nul-user")),
    "memory patch metadata": lambda w: w.client.patch(
        "/v1/memories/00000000-0000-0000-0000-000000000000", json={"metadata": {"a": f"b{NUL}"}},
        headers=w.tenant.key_headers("nul-user"),
    ),
    "workspace add agent_id": lambda w: w.client.post(
        "/v1/workspace/memories/add", json={"messages": _messages(), "agent_id": f"a{NUL}"}, headers=w.tenant.jwt_headers()
    ),
    "workspace add content": lambda w: w.client.post(
        "/v1/workspace/memories/add", json={"messages": _messages(f"Deploys on Friday{NUL}")},
        headers=w.tenant.jwt_headers(),
    ),
    # agents, connectors, directory
    "agent name": lambda w: w.client.post(
        "/v1/agents/global", json={"name": f"Agent{NUL}", "redirect_uri": ""}, headers=w.tenant.key_headers()
    ),
    "agent description": lambda w: w.client.patch(
        f"/v1/agents/global/{w.agent.id}", json={"description": f"d{NUL}"}, headers=w.tenant.key_headers()
    ),
    "agent id in public path": lambda w: w.client.get("/v1/agents/global/%00"),
    "link token external_user_id": lambda w: w.client.post(
        "/v1/tenant/memory-passport/link-token", json={"agent_id": w.agent.id, "external_user_id": f"u{NUL}"},
        headers=w.tenant.key_headers(),
    ),
    # the passport user
    "otp send email": lambda w: w.client.post("/v1/uui/otp/send", json={"email": f"a{NUL}@example.com"}),
    "otp verify code": lambda w: w.client.post("/v1/uui/otp/verify", json={"email": w.passport.email, "otp": f"12{NUL}"}),
    "grant agent_id": lambda w: w.client.post(
        "/v1/uui/me/grants", json={"agent_id": f"{w.agent.id}{NUL}", "categories_allowed": ["fact"], "access_type": "read_only"},
        headers=w.passport.headers(),
    ),
    "grant link_token": lambda w: w.client.post(
        "/v1/uui/me/grants",
        json={"agent_id": w.agent.id, "categories_allowed": ["fact"], "access_type": "read_only", "link_token": f"plink_{NUL}"},
        headers=w.passport.headers(),
    ),
    "passport memories cursor": lambda w: w.client.get("/v1/uui/me/memories?cursor=a%00", headers=w.passport.headers()),
    "passport correction": lambda w: w.client.post(
        "/v1/uui/me/memories/00000000-0000-0000-0000-000000000000/correct", json={"corrected_content": f"x{NUL}"},
        headers=w.passport.headers(),
    ),
    "passport session header": lambda w: w.client.get("/v1/uui/me", headers={"X-MemoryOS-Session": f"s{NUL}"}),
    # the agent side
    "universal add content": lambda w: w.client.post(
        "/v1/universal/memories/add", json={"messages": _messages(f"I prefer tea{NUL}.")}, headers=w.agent.headers(w.uui)
    ),
    "universal add metadata": lambda w: w.client.post(
        "/v1/universal/memories/add", json={"messages": _messages(), "metadata": {"m": f"x{NUL}"}},
        headers=w.agent.headers(w.uui),
    ),
    "universal add idempotency_key": lambda w: w.client.post(
        "/v1/universal/memories/add", json={"messages": _messages(), "idempotency_key": f"k{NUL}"},
        headers=w.agent.headers(w.uui),
    ),
    "universal retrieve query": lambda w: w.client.post(
        "/v1/universal/memories/retrieve", json={"query": f"tea{NUL}"}, headers=w.agent.headers(w.uui)
    ),
    "universal UUI header": lambda w: w.client.post(
        "/v1/universal/memories/retrieve", json={"query": "tea"}, headers=w.agent.headers(f"{w.uui}{NUL}")
    ),
    "universal job id in path": lambda w: w.client.get("/v1/universal/memories/jobs/job_%00", headers=w.agent.headers(w.uui)),
    "universal resolve": lambda w: w.client.post(
        "/v1/universal/users/resolve", json={"external_user_id": f"u{NUL}"}, headers=w.agent.headers()
    ),
    "universal consent exchange": lambda w: w.client.post(
        "/v1/universal/consent/exchange", json={"code": f"c{NUL}"}, headers=w.agent.headers()
    ),
}


def row_counts(runtime: Runtime) -> dict[str, int]:
    with runtime.db.session(write=False) as session:
        return {table.name: session.execute(select(func.count()).select_from(table)).scalar_one() for table in Base.metadata.sorted_tables}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_unstorable_text_is_refused_and_changes_nothing(world: World, runtime: Runtime, case: str) -> None:
    before = row_counts(runtime)
    response = CASES[case](world)
    assert response.status_code in (400, 422), (response.status_code, response.text)
    body = response.json()
    assert body["code"] == f"REQ_{response.status_code}" and body["error"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert NUL not in response.text and "\\u0000" not in response.text  # the value is not echoed back
    assert row_counts(runtime) == before


def test_the_same_requests_without_the_bad_character_succeed(world: World) -> None:
    """The cases above fail for the character, not for something else about them."""
    headers = world.tenant.key_headers("storable-user")
    added = world.client.post(
        "/v1/memories/add",
        json={"messages": _messages(), "agent_id": "a", "conversation_id": "c", "metadata": {"tags": [{"deep": ["x"]}]}},
        headers={**headers, "Idempotency-Key": "k-ok"},
    )
    assert added.status_code == 200, added.text
    assert world.client.get("/v1/memories?external_user_id=storable-user", headers=world.tenant.key_headers()).status_code == 200
    named = world.client.post("/v1/tenant/api-keys", json={"name": "k"}, headers=world.tenant.jwt_headers())
    assert named.status_code == 201
    token = world.client.post(
        "/v1/oauth/token", data={"grant_type": "client_credentials"}, headers=_basic(world.oauth_client_id, world.oauth_secret)
    )
    assert token.status_code == 200
    universal = world.client.post(
        "/v1/universal/memories/add", json={"messages": _messages(), "metadata": {"m": "x"}}, headers=world.agent.headers(world.uui)
    )
    assert universal.status_code == 200, universal.text
    assert json.loads(world.client.get("/v1/uui/me", headers=world.passport.headers()).text)["data"]


def test_a_nul_in_a_web_page_query_is_refused_too(world: World) -> None:
    response = world.client.get("/connect?agent_id=x&link_token=plink_%00")
    assert response.status_code == 422 and response.json()["code"] == "REQ_422"
    assert response.json()["details"] == [
        {"loc": ["query", "link_token"], "msg": response.json()["details"][0]["msg"], "type": "string_unstorable"}
    ]
