"""A search's query vector: computed once per asker for a question asked again, never shared
with anyone else, and never computed for a request that is not allowed to search.

``services/memory/query_vectors.py``: the retrieve routes start the query's embedding as soon
as the caller is authenticated and the body valid; the vector is remembered for that caller (a
tenant's backend, one passport agent) and no one else, so no caller can learn from the speed of
an answer what another asked or stored. The embedder here counts the texts that reach it.
SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from fastapi import FastAPI
from fastapi.testclient import TestClient

from memoryos_server.services.memory import query_vectors
from memoryos_server.services.memory.query_vectors import QueryVectors
from memoryos_server.services.principal import Principal
from memoryos_server.settings import Settings
from tests.fixtures.counting import CountingEmbedder, counting, embedder_in_use  # noqa: F401
from tests.fixtures.dashboard import dashboard_browser, post_form
from tests.fixtures.factories import TenantHandle
from tests.fixtures.mcp_oauth import authorize, tool
from tests.fixtures.pages import signed_in_browser
from tests.fixtures.passport import connected, new_agent, new_passport  # noqa: F401

QUESTION = "what does this person prefer for breakfast"
SECRET = "Patient 7 was diagnosed with asthma in March"


def _retrieve(client: TestClient, headers: dict[str, str], query: str = QUESTION, **extra: Any) -> Any:
    return client.post("/v1/memories/retrieve", json={"query": query, "limit": 5, **extra}, headers=headers)


def _add(client: TestClient, tenant: TenantHandle, end_user: str, text: str) -> None:
    body = {"messages": [{"role": "user", "content": text}], "infer": False}
    assert client.post("/v1/memories/add", json=body, headers=tenant.key_headers(end_user)).status_code == 200


def test_a_question_asked_again_is_embedded_once_for_its_tenant_and_afresh_for_another(
    client: TestClient, new_tenant: Callable[..., TenantHandle], counting: CountingEmbedder
) -> None:
    acme, other = new_tenant("Acme"), new_tenant("Other")
    _add(client, acme, "ann", "I like porridge for breakfast")
    _add(client, acme, "bob", "I like eggs for breakfast")
    first = _retrieve(client, acme.key_headers("ann"))
    second = _retrieve(client, acme.key_headers("bob"))  # the same question for another end-user
    assert first.status_code == second.status_code == 200
    assert [m["content"] for m in first.json()["data"]] == ["I like porridge for breakfast"]
    assert [m["content"] for m in second.json()["data"]] == ["I like eggs for breakfast"]
    assert counting.seen.count(QUESTION) == 1  # the backend's repeat used its own vector

    assert _retrieve(client, other.key_headers("ann")).status_code == 200
    assert counting.seen.count(QUESTION) == 2  # another tenant's question reaches the model


def test_another_key_of_the_same_tenant_shares_its_questions(
    client: TestClient, tenant: TenantHandle, counting: CountingEmbedder
) -> None:
    """A tenant's backend is one asker whichever key it uses, as for its idempotency keys."""
    made = client.post("/v1/tenant/api-keys", json={"name": "second backend"}, headers=tenant.jwt_headers())
    assert made.status_code in (200, 201), made.text
    second_key = made.json()["data"]["raw_api_key"]
    assert _retrieve(client, tenant.key_headers("ann")).status_code == 200
    headers = {"Authorization": f"ApiKey {second_key}", "X-End-User-ID": "ann"}
    assert _retrieve(client, headers).status_code == 200
    assert counting.seen.count(QUESTION) == 1


def test_a_dashboard_member_and_the_backend_never_share_a_question(
    client: TestClient, tenant: TenantHandle, counting: CountingEmbedder
) -> None:
    """A member's memories are theirs alone (the dashboard's JWT searches them), and so are
    their questions: neither the backend nor another member can time them."""
    colleague = tenant.add_member("member")
    for headers in (tenant.jwt_headers(), tenant.jwt_headers(), colleague.headers(), tenant.key_headers("ann")):
        assert _retrieve(client, headers).status_code == 200
    assert counting.seen.count(QUESTION) == 3  # the owner once (then its own), the colleague, the backend


def test_a_text_another_tenant_stored_or_asked_is_no_faster_to_ask(
    client: TestClient, new_tenant: Callable[..., TenantHandle], counting: CountingEmbedder
) -> None:
    victim, prober = new_tenant("Clinic"), new_tenant("Prober")
    _add(client, victim, "patient-7", SECRET)
    assert _retrieve(client, victim.key_headers("patient-7"), SECRET).status_code == 200
    before = counting.seen.count(SECRET)
    # Stored texts are never remembered as queries, and the victim's own question is its own.
    assert _retrieve(client, prober.key_headers("me"), SECRET).status_code == 200
    assert counting.seen.count(SECRET) == before + 1


def test_agents_each_have_their_own_questions(client: TestClient, connected, new_agent, new_passport, tenant: TenantHandle, counting: CountingEmbedder) -> None:  # type: ignore[no-untyped-def]
    person = new_passport()
    a, _, uui_a = connected(["preference"], "read_write", passport=person)
    b, _, uui_b = connected(["preference"], "read_write", passport=person, agent=new_agent())
    query = {"query": QUESTION, "limit": 5}
    for headers in (a.headers(uui_a), a.headers(uui_a), b.headers(uui_b)):
        assert client.post("/v1/universal/memories/retrieve", json=query, headers=headers).status_code == 200
    # The tenant that registered agent A asks too: neither agent's vector serves it.
    assert _retrieve(client, a.tenant.key_headers("someone")).status_code == 200
    assert counting.seen.count(QUESTION) == 3  # A once (then its own), B once, the tenant once


def test_one_mcp_client_used_by_two_people_keeps_each_persons_questions_apart(
    app: FastAPI, client: TestClient, settings: Settings, new_passport, counting: CountingEmbedder  # type: ignore[no-untyped-def]
) -> None:
    """Many people may use one MCP client (one metadata document): one person's question must
    not make another's answer faster."""
    tokens = []
    for _ in range(2):
        person = new_passport()
        browser = signed_in_browser(app, settings.resolved_outbox_dir, person.email)
        tokens.append(authorize(client, browser, categories=["preference"]).tokens["access_token"])
    for token in (tokens[0], tokens[0], tokens[1]):
        tool(client, token, "get_context", {"query": QUESTION, "limit": 5})
    assert counting.seen.count(QUESTION) == 2  # the first person once (then their own), the second


def test_a_request_refused_before_the_search_embeds_nothing(client: TestClient, connected, tenant: TenantHandle, counting: CountingEmbedder) -> None:  # type: ignore[no-untyped-def]
    agent, _, uui = connected(["preference"])
    refused = [
        _retrieve(client, {"Authorization": "ApiKey mos_not_a_real_key", "X-End-User-ID": "ann"}),
        _retrieve(client, {"X-End-User-ID": "ann"}),
        client.post("/v1/memories/retrieve", json={"limit": 5}, headers=tenant.key_headers("ann")),
        _retrieve(client, tenant.key_headers("ann"), limit=-1),
        _retrieve(client, tenant.key_headers("ann"), QUESTION + "\x00"),
        client.post("/v1/universal/memories/retrieve", json={"query": QUESTION}, headers={"X-MemoryOS-UUI": uui}),
        client.post("/v1/universal/memories/retrieve", json={"query": QUESTION}, headers=agent.headers("uui_" + "q" * 43)),
    ]
    assert [r.status_code for r in refused] == [401, 401, 422, 422, 422, 403, 403], [r.text for r in refused]
    assert all(r.json()["error"] for r in refused)
    assert counting.seen == []


def test_an_embedder_that_fails_is_a_503_and_the_question_is_asked_again_next_time(
    client: TestClient, tenant: TenantHandle, counting: CountingEmbedder
) -> None:
    _add(client, tenant, "ann", "I like porridge for breakfast")
    counting.failing.add(QUESTION)
    failed = _retrieve(client, tenant.key_headers("ann"))
    assert failed.status_code == 503, failed.text
    assert failed.json()["error"] == "service_unavailable"
    assert "Traceback" not in failed.text
    counting.failing.clear()
    answered = _retrieve(client, tenant.key_headers("ann"))
    assert answered.status_code == 200
    assert [m["content"] for m in answered.json()["data"]] == ["I like porridge for breakfast"]
    assert counting.seen.count(QUESTION) == 2  # the failure was not remembered


class _Short(CountingEmbedder):
    """Answers ``QUESTION`` with a vector one dimension short, as a misconfigured remote model
    would."""

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vectors = super().embed(texts)
        return vectors[:, :-1] if QUESTION in texts else vectors


def test_a_query_vector_of_the_wrong_shape_is_a_503_for_the_api_and_the_dashboard_alike(
    app: FastAPI, client: TestClient, tenant: TenantHandle
) -> None:
    """Every search embeds its query one way (``QueryVectors``), with one shape check: the API's
    routes (started early) and the dashboard's playground (computed when the search needs it)."""
    _add(client, tenant, "ann", "I like porridge for breakfast")
    member = dashboard_browser(app, tenant.owner_email)
    added = post_form(member, "/dashboard/playground", "/dashboard/playground/add", {"message": "I like toast for breakfast"})
    assert added.status_code == 303  # type: ignore[attr-defined]
    with embedder_in_use(client, _Short()):
        answered = _retrieve(client, tenant.key_headers("ann"))
        page = member.get("/dashboard/playground", params={"query": QUESTION})
        fine = member.get("/dashboard/playground", params={"query": "what about lunch"})
    assert answered.status_code == 503, answered.text
    assert answered.json()["error"] == "service_unavailable" and "storage holds" in answered.json()["message"]
    assert page.status_code == 503, page.text[:500]
    assert "Traceback" not in answered.text + page.text
    assert fine.status_code == 200  # a well-shaped answer searches as before


def test_the_store_is_bounded_and_drops_the_least_recently_asked() -> None:
    counter = CountingEmbedder()
    vectors = QueryVectors(lambda: counter, counter.dim, remembered=2)
    try:
        for query in ("one", "two", "one", "three", "one", "two"):
            vector = vectors.start("tenant:1", query).result()
            assert vector.shape == (counter.dim,)
        # "two" was dropped when "three" came ("one" had just been asked again).
        assert counter.seen == ["one", "two", "three", "two"]
        assert vectors.now("tenant:2", "one") is not None
        assert counter.seen[-1] == "one"  # another asker's
        assert vectors.now(None, "three") is not None and counter.seen[-1] == "three"  # remembered for no one
    finally:
        vectors.close()


class _Held(CountingEmbedder):
    """Embeds only once ``go`` is set: a slow model, or a slow remote embedder."""

    def __init__(self) -> None:
        super().__init__()
        self.go = threading.Event()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        assert self.go.wait(10)
        return super().embed(texts)


def test_with_every_thread_busy_a_vector_is_computed_by_its_own_request_and_a_cancelled_one_never() -> None:
    held = _Held()
    vectors = QueryVectors(lambda: held, held.dim)
    try:
        busy = [vectors.start(None, f"busy {i}") for i in range(query_vectors.WORKERS)]
        queued = vectors.start(None, "no thread left")  # nothing queues behind the pool
        unwanted = vectors.start(None, "the request ended first")
        unwanted.cancel()
        held.go.set()
        assert queued.result().shape == (held.dim,)
        assert all(b.result().shape == (held.dim,) for b in busy)
        assert "no thread left" in held.seen and "the request ended first" not in held.seen
        # The pool's threads are free again: the next vector is computed there.
        assert vectors.start(None, "afterwards").result().shape == (held.dim,)
    finally:
        vectors.close()
    # Closed with the app: later vectors are computed by the requests themselves.
    assert vectors.start(None, "after closing").result().shape == (held.dim,)


def test_askers_are_named_by_ids_never_reused() -> None:
    """A tenant deleted and another created may get the same integer id (SQLite reuses the
    highest); the newcomer must not time its predecessor's questions."""
    before = Principal(kind="api_key", tenant_id=7, tenant_public_id="ten_old", role="service", credential_id="key_a")
    after = dataclasses.replace(before, tenant_public_id="ten_new", credential_id="key_b")
    assert query_vectors.principal_asker(before) != query_vectors.principal_asker(after)
    member = Principal(kind="user", tenant_id=7, tenant_public_id="ten_old", role="owner", credential_id="usr_x", user_id=3)
    successor = dataclasses.replace(member, credential_id="usr_y")  # the same integer user id, another person
    assert query_vectors.principal_asker(member) != query_vectors.principal_asker(successor)
    assert query_vectors.principal_asker(member) != query_vectors.principal_asker(before)
