"""The rule for doubt (SPEC §7, "categories are a permission boundary"): a memory the engine
filed under one category but found plausible in another reaches only readers allowed both.

"I call my grandmother every Sunday" is a routine (procedure) about someone in the user's life:
the engine files it under procedure and records relationship as doubt. An agent holding only
procedure must not receive it, through any read path, while ``limit`` still fills with the
memories it may see; an agent holding both receives it.
"""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from memoryos_server.settings import Settings
from tests.fixtures.factories import TenantHandle
from tests.fixtures.passport import (  # noqa: F401
    AgentHandle,
    client_from,
    connected,
    fresh_ip,
    latest_code,
    new_agent,
    new_passport,
)

AMBIGUOUS = "I call my grandmother every Sunday."
ROUTINES = ["I always run the tests before I push.", "I back up my laptop every Friday evening."]


def _add(client: TestClient, agent: AgentHandle, uui: str, text: str) -> dict:  # type: ignore[type-arg]
    response = client.post(
        "/v1/universal/memories/add", json={"messages": [{"role": "user", "content": text}]}, headers=agent.headers(uui)
    )
    assert response.status_code == 200, response.text
    return response.json()


def _retrieve(client: TestClient, agent: AgentHandle, uui: str, query: str, **extra: object) -> dict:  # type: ignore[type-arg]
    response = client.post(
        "/v1/universal/memories/retrieve", json={"query": query, **extra}, headers=agent.headers(uui)
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_a_memory_in_doubt_reaches_only_an_agent_holding_all_its_categories(client: TestClient, connected) -> None:  # type: ignore[no-untyped-def]
    writer, person, writer_uui = connected(["procedure", "relationship"], "read_write")
    for text in [AMBIGUOUS, *ROUTINES]:
        _add(client, writer, writer_uui, text)
    mine = client.get("/v1/uui/me/memories", headers=person.headers()).json()["data"]
    doubtful = [m for m in mine if "grandmother" in m["content"]]
    assert [(m["category"], m["also_categories"]) for m in doubtful] == [("procedure", ["relationship"])]
    assert all(m["also_categories"] == [] for m in mine if m not in doubtful)

    procedure_agent, _, procedure_uui = connected(["procedure"], passport=person)
    relationship_agent, _, relationship_uui = connected(["relationship"], passport=person)

    # Procedure only: the two plain routines, never the one in doubt, and limit still fills.
    seen = _retrieve(client, procedure_agent, procedure_uui, "call grandmother on Sunday", limit=10)
    assert sorted(m["content"] for m in seen["data"]) == sorted(
        ["Always runs the tests before pushing", "Backs up their laptop every Friday evening"]
    )
    assert "grandmother" not in seen["system_prompt_addition"]
    one = _retrieve(client, procedure_agent, procedure_uui, "grandmother Sunday", limit=1)
    assert len(one["data"]) == 1 and "grandmother" not in one["data"][0]["content"]
    # Relationship only: not filed there, so nothing either.
    assert _retrieve(client, relationship_agent, relationship_uui, "grandmother Sunday")["data"] == []
    # Both: it comes back.
    both = _retrieve(client, writer, writer_uui, "call grandmother on Sunday", limit=10)
    assert any("grandmother" in m["content"] for m in both["data"])


def test_an_agent_may_not_write_a_memory_it_could_not_read_back(client: TestClient, connected) -> None:  # type: ignore[no-untyped-def]
    agent, person, uui = connected(["procedure"], "read_write")
    body = _add(client, agent, uui, AMBIGUOUS)
    assert body["results"] == [] and body["skipped"] == 1
    assert client.get("/v1/uui/me/memories", headers=person.headers()).json()["data"] == []


def test_a_tenant_category_filter_follows_the_same_rule_and_a_chosen_category_settles_it(
    client: TestClient, tenant: TenantHandle
) -> None:
    headers = tenant.key_headers("doubt-user")
    added = client.post("/v1/memories/add", json={"messages": [{"role": "user", "content": AMBIGUOUS}]}, headers=headers)
    assert added.status_code == 200, added.text
    memory_id = added.json()["results"][0]["id"]
    listed = client.get("/v1/memories", headers=headers).json()["data"]
    assert [(m["category"], m["also_categories"]) for m in listed] == [("procedure", ["relationship"])]

    def found(categories: list[str]) -> bool:
        body = {"query": "grandmother Sunday", "categories": categories}
        response = client.post("/v1/memories/retrieve", json=body, headers=headers)
        assert response.status_code == 200, response.text
        return any(m["id"] == memory_id for m in response.json()["data"])

    assert not found(["procedure"])
    assert found(["procedure", "relationship"])
    assert found([])  # no filter: everything of the end-user's

    # Someone chose the category: the engine's doubt no longer holds it back.
    patched = client.patch(f"/v1/memories/{memory_id}", json={"category": "procedure"}, headers=headers)
    assert patched.status_code == 200, patched.text
    assert patched.json()["data"]["also_categories"] == []
    assert found(["procedure"])


def test_the_permission_center_says_who_may_see_a_memory_in_doubt(
    app: FastAPI, client: TestClient, settings: Settings, connected  # type: ignore[no-untyped-def]
) -> None:
    writer, person, uui = connected(["procedure", "relationship"], "read_write")
    _add(client, writer, uui, AMBIGUOUS)
    browser = client_from(app, fresh_ip())
    _sign_in(browser, settings, person.email)
    page = browser.get("/manage/memories")
    assert page.status_code == 200
    text = " ".join(re.sub(r"<[^>]+>", " ", page.text).split())
    assert (
        "Filed under Procedures, but it may belong under Relationships too: only agents you allowed both see it." in text
    ), text[:2000]


def _csrf(response_text: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', response_text)
    assert match, "the page has no CSRF token"
    return match.group(1)


def _sign_in(browser: TestClient, settings: Settings, email: str) -> None:
    token = _csrf(browser.get("/login").text)
    sent = browser.post("/login", data={"csrf_token": token, "email": email, "next": "/manage"}, follow_redirects=False)
    assert sent.status_code == 303
    form = browser.get("/login/code")
    code = latest_code(settings.resolved_outbox_dir, email)
    signed = browser.post("/login/code", data={"csrf_token": _csrf(form.text), "code": code}, follow_redirects=False)
    assert signed.status_code == 303, signed.text
